"""A correct submission that sleeps 2 s while importing."""
import time as _time

_time.sleep(2)
