"""Replies from the worker as read-only records with attribute access: `got.running_var`."""


class Record(dict):
    """A dict whose keys are also attributes; nested dicts become Records too."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"the result has no field {name!r} (it has {sorted(self)})") from None


def to_record(value):
    if isinstance(value, dict):
        return Record({key: to_record(item) for key, item in value.items()})
    if isinstance(value, list):
        return [to_record(item) for item in value]
    return value


def type_name(value):
    """The student-facing name of a returned value's type, seeing through opaque placeholders."""
    if isinstance(value, dict) and "__opaque__" in value:
        if "layout" in value:
            return "a nested tensor" if value.get("nested") else f"a {value['layout']} tensor"
        return value["__opaque__"].rpartition(".")[2]
    if isinstance(value, Record):
        return "dict"
    return type(value).__name__
