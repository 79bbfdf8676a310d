"""Model instances from hand-written single-row SELECTs, for the two reads on the hottest paths.

Django's ORM builds the SQL of a queryset anew on every evaluation. For the account of every
logged-in request and the link of every eHerkenning login, that compilation cost two to three times
the database's own work (design.md §7 P1/P2; ``Account.objects.get(pk=…)`` about 1.1 ms against
0.3 ms for the same statement sent as text). These helpers write a model's column list once from
its ``_meta`` and turn a row into an instance with ``Model.from_db`` — what the ORM itself calls —
after the database converters the ORM applies (SQLite returns datetimes as text, for instance), so
the instance is the one the ORM would have built. Everything else keeps using the ORM.
"""


def columns(model, alias: str, connection) -> str:
    """``alias."column", …`` for every concrete field of ``model``, in ``_meta.concrete_fields``
    order (the order :func:`instance` expects); written once per model, alias and database vendor."""
    key = (model, alias, connection.vendor)
    cached = _COLUMNS.get(key)
    if cached is None:
        quote = connection.ops.quote_name
        cached = _COLUMNS[key] = ", ".join(
            f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields
        )
    return cached


_COLUMNS: dict = {}
_CONVERTERS: dict = {}


def _converters(model, connection) -> tuple:
    """The ORM's converters per column, once per model and database vendor (they are the backend's
    and the field's; each call gets the current connection)."""
    key = (model, connection.vendor)
    cached = _CONVERTERS.get(key)
    if cached is not None:
        return cached
    found = []
    for index, field in enumerate(model._meta.concrete_fields):
        column = field.get_col(model._meta.db_table)
        # As SQLCompiler.get_converters: the backend's, then the field's own.
        functions = [*connection.ops.get_db_converters(column), *column.get_db_converters(connection)]
        if functions:
            found.append((index, column, tuple(functions)))
    _CONVERTERS[key] = tuple(found)
    return _CONVERTERS[key]


def width(model) -> int:
    """How many values :func:`columns` selects for ``model``."""
    return len(model._meta.concrete_fields)


def instance(model, values, connection):
    """The instance of ``model`` for ``values`` (one row in :func:`columns` order) as the ORM
    loads it: converted, not ``adding``, bound to ``connection``'s database."""
    values = list(values)
    for index, column, functions in _converters(model, connection):
        value = values[index]
        for function in functions:
            value = function(value, column, connection)
        values[index] = value
    return model.from_db(connection.alias, None, values)
