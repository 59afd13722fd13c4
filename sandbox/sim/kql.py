"""The subset of Kusto (KQL) that meshca sends to Resource Graph, evaluated over rows.

Deliberately small: a table name, then ``| where``, ``| extend``, ``| project``,
``| distinct``, ``| join kind=inner|innerunique|leftouter (<subquery>) on <column>``,
``| order by <column> [asc|desc], ...`` (``sort`` is its synonym) and ``| summarize
<name> = make_list(<expression>), ... by <name> [= <expression>], ...``; expressions with
``and``/``or``/``not()``, ``==``/``!=``/``=~``/``!~``, ``in``/``in~`` over a literal list,
dotted property paths, string/number/bool literals and the functions ``tolower``,
``tostring``, ``isnotempty``, ``isempty`` and ``bag_pack(key, value, ...)``. Anything else raises
``KqlError`` with the token and position, which the simulator answers with Resource
Graph's 400 InvalidQuery body, so meshca cannot start relying on a query the simulator
never checked. Semantics follow the Kusto docs (learn.microsoft.com/kusto/query):
``=~``/``in~`` compare case-insensitively, a missing property is null, ``isnotempty``
is false for null and "", comparisons with null are false. A join follows the Kusto
join operator (learn.microsoft.com/kusto/query/join-operator): ``innerunique`` (the
default) keeps one left row per key, ``inner`` every pair, ``leftouter`` every left row;
a right column whose name the left side has already gets the suffix ``1``; null keys
never match. Resource Graph allows only these three flavors (MicrosoftDocs/azure-docs,
articles/governance/resource-graph/concepts/query-language.md, "Supported tabular/top
level operators"); any other ``kind`` is a parser failure here.

``order by`` follows learn.microsoft.com/kusto/query/order-operator: descending unless
``asc`` is named; nulls first when ascending, last when descending. ``summarize`` follows
learn.microsoft.com/kusto/query/summarize-operator: one row per distinct combination of the
``by`` values, the ``by`` columns first, then the aggregates; ``make_list``
(learn.microsoft.com/kusto/query/make-list-aggregation-function) leaves nulls out (its
sibling make_list_with_nulls keeps them); ``bag_pack`` (learn.microsoft.com/kusto/query/
pack-function) builds a property bag of its key/value pairs. Resource Graph answers a
summarized query on its first page only (query-language.md: "Simplified first page only"):
sandbox/sim/resourcegraph.py asks ``summarizes(query)``.
"""

import re

TOKEN = re.compile(r"""\s*(?:
    (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<number>\d+(?:\.\d+)?)
  | (?P<op>=~|!~|==|!=|in~|\||\(|\)|,|=|\.|\[|\])
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
)""", re.VERBOSE)

FUNCTIONS = ("tolower", "tostring", "isnotempty", "isempty", "not", "bag_pack")
AGGREGATES = ("make_list",)
OPERATORS = ("where", "extend", "project", "distinct", "join", "order", "sort", "summarize")
JOIN_KINDS = ("innerunique", "inner", "leftouter")
MISSING = None


class KqlError(ValueError):
    """An unsupported or malformed query: the token and its 1-based position."""

    def __init__(self, message, token, position):
        super().__init__(message)
        self.token = token
        self.position = position


def tokenize(text):
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise KqlError("ParserFailure", text[position:].strip()[:1], position + 1)
        kind = match.lastgroup
        value = match.group(kind)
        start = match.start(kind)
        if kind == "name" and value == "in" and text[match.end():match.end() + 1] == "~":
            value, match_end = "in~", match.end() + 1
        else:
            match_end = match.end()
        tokens.append((kind, value, start + 1))
        position = match_end
    return tokens


class Parser:
    def __init__(self, text):
        self.tokens = tokenize(text)
        self.index = 0

    def peek(self):
        return self.tokens[self.index] if self.index < len(self.tokens) else ("end", "", 0)

    def take(self, value=None):
        token = self.peek()
        if token[0] == "end" or (value is not None and token[1] != value):
            raise KqlError("ParserFailure", token[1], token[2])
        self.index += 1
        return token

    def pipeline(self, nested=False):
        kind, table, position = self.take()
        if kind != "name":
            raise KqlError("ParserFailure", table, position)
        stages = []
        while self.peek()[1] == "|":
            self.take("|")
            kind, name, position = self.take()
            if name not in OPERATORS:
                raise KqlError("InvalidQueryLanguage", name, position)
            if name == "where":
                stages.append(("where", self.expression()))
            elif name == "distinct":
                stages.append(("distinct", self.assignments(allow_bare=True)))
            elif name == "join":
                stages.append(("join", self.join()))
            elif name in ("order", "sort"):
                stages.append(("order", self.order()))
            elif name == "summarize":
                stages.append(("summarize", self.summarize()))
            else:
                stages.append((name, self.assignments(allow_bare=(name == "project"))))
        if self.peek()[0] != "end" and not (nested and self.peek()[1] == ")"):
            token = self.peek()
            raise KqlError("ParserFailure", token[1], token[2])
        return table.lower(), stages

    def join(self):
        """``kind=<flavor> (<pipeline>) on <column>``: (flavor, subquery, column)."""
        flavor = "innerunique"
        if self.peek()[1] == "kind":
            self.take("kind")
            self.take("=")
            _, flavor, position = self.take()
            if flavor not in JOIN_KINDS:
                raise KqlError("ParserFailure", flavor, position)
        self.take("(")
        subquery = self.pipeline(nested=True)
        self.take(")")
        self.take("on")
        kind, column, position = self.take()
        if kind != "name":
            raise KqlError("ParserFailure", column, position)
        return flavor, subquery, column

    def order(self):
        """``by <column> [asc|desc], ...``: [(column, ascending)]."""
        self.take("by")
        columns = []
        while True:
            kind, column, position = self.take()
            if kind != "name":
                raise KqlError("ParserFailure", column, position)
            ascending = False
            if self.peek()[1] in ("asc", "desc"):
                ascending = self.take()[1] == "asc"
            columns.append((column, ascending))
            if self.peek()[1] != ",":
                return columns
            self.take(",")

    def summarize(self):
        """``<name> = <aggregate>(<expression>), ... by <name> [= <expression>], ...``:
        ([(name, aggregate, expression)], [(name, expression)])."""
        aggregates = []
        while True:
            kind, name, position = self.take()
            if kind != "name":
                raise KqlError("ParserFailure", name, position)
            self.take("=")
            _, function, position = self.take()
            if function not in AGGREGATES:
                raise KqlError("UnknownFunction", function, position)
            self.take("(")
            aggregates.append((name, function, self.expression()))
            self.take(")")
            if self.peek()[1] != ",":
                break
            self.take(",")
        self.take("by")
        return aggregates, self.assignments(allow_bare=True)

    def assignments(self, allow_bare):
        items = []
        while True:
            kind, name, position = self.take()
            if kind != "name":
                raise KqlError("ParserFailure", name, position)
            if self.peek()[1] == "=":
                self.take("=")
                items.append((name, self.expression()))
            elif allow_bare:
                items.append((name, ("path", [name])))
            else:
                raise KqlError("ParserFailure", self.peek()[1], self.peek()[2])
            if self.peek()[1] != ",":
                return items
            self.take(",")

    def expression(self):
        left = self.conjunction()
        while self.peek()[1] == "or":
            self.take("or")
            left = ("or", left, self.conjunction())
        return left

    def conjunction(self):
        left = self.comparison()
        while self.peek()[1] == "and":
            self.take("and")
            left = ("and", left, self.comparison())
        return left

    def comparison(self):
        left = self.primary()
        operator = self.peek()[1]
        if operator in ("==", "!=", "=~", "!~"):
            self.take()
            return (operator, left, self.primary())
        if operator in ("in", "in~"):
            self.take()
            self.take("(")
            values = []
            while self.peek()[1] != ")":
                kind, value, position = self.take()
                if kind not in ("string", "number"):
                    raise KqlError("ParserFailure", value, position)
                values.append(_literal(kind, value))
                if self.peek()[1] == ",":
                    self.take(",")
            self.take(")")
            return (operator, left, values)
        return left

    def primary(self):
        kind, value, position = self.take()
        if kind in ("string", "number"):
            return ("literal", _literal(kind, value))
        if value == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if kind != "name":
            raise KqlError("ParserFailure", value, position)
        if value in ("true", "false"):
            return ("literal", value == "true")
        if self.peek()[1] == "(":
            if value not in FUNCTIONS:
                raise KqlError("UnknownFunction", value, position)
            self.take("(")
            arguments = [self.expression()]
            while self.peek()[1] == ",":
                self.take(",")
                arguments.append(self.expression())
            self.take(")")
            if (value == "bag_pack") != (len(arguments) % 2 == 0) or (value != "bag_pack" and len(arguments) != 1):
                raise KqlError("ParserFailure", value, position)
            return ("call", value, arguments)
        path = [value]
        while self.peek()[1] in (".", "["):
            if self.take()[1] == ".":
                kind, name, position = self.take()
                if kind != "name":
                    raise KqlError("ParserFailure", name, position)
                path.append(name)
            else:
                kind, name, position = self.take()
                if kind != "string":
                    raise KqlError("ParserFailure", name, position)
                path.append(_literal(kind, name))
                self.take("]")
        return ("path", path)


def _literal(kind, value):
    if kind == "number":
        return float(value) if "." in value else int(value)
    return re.sub(r"\\(.)", r"\1", value[1:-1])


def _text(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        import json
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def evaluate(node, row):
    """The value of expression ``node`` on ``row`` (the semantics are ``compile_expression``'s)."""
    return compile_expression(node)(row)


def compile_expression(node):
    """A function of a row computing expression ``node``, made once per stage rather than
    walking the tree for every row. The semantics are the module docstring's: a missing
    property is null, comparisons with null are false (``!=``/``!~`` true when exactly one
    side is null), ``=~``/``in~`` compare the text case-insensitively, ``in`` never matches
    null; the values a literal list or literal side stands for are worked out once."""
    kind = node[0]
    if kind == "literal":
        value = node[1]
        return lambda row: value
    if kind == "path":
        return _path(node[1])
    if kind == "call":
        return _call(node[1], [compile_expression(argument) for argument in node[2]])
    if kind in ("and", "or"):
        return _logical(kind, compile_expression(node[1]), compile_expression(node[2]))
    if kind in ("in", "in~"):
        return _membership(kind, compile_expression(node[1]), node[2])
    return _comparison(kind, compile_expression(node[1]), node[2])


def _logical(kind, left, right):
    if kind == "and":
        return lambda row: bool(left(row)) and bool(right(row))
    return lambda row: bool(left(row)) or bool(right(row))


def _path(path):
    """The value at ``path``; null where a step is missing or not a property bag. Column
    names and property bag keys alike are matched case-sensitively (Kusto's property bags
    are; ARM JSON keys keep their case)."""
    if len(path) == 1:      # a column: most lookups, so without the loop
        column = path[0]
        return lambda row: row.get(column, MISSING) if isinstance(row, dict) else MISSING

    def lookup(row):
        value = row
        for key in path:
            if not isinstance(value, dict):
                return MISSING
            value = value.get(key, MISSING)
        return value
    return lookup


def _call(function, arguments):
    if function == "bag_pack":
        def bag(row):
            values = [argument(row) for argument in arguments]
            return {_text(key): value for key, value in zip(values[::2], values[1::2])}
        return bag
    argument = arguments[0]
    if function == "tolower":
        def tolower(row):
            text = _text(argument(row))
            return text.lower() if text is not None else None
        return tolower
    if function == "tostring":
        def tostring(row):
            value = argument(row)
            return _text(value) if value is not None else ""
        return tostring
    if function == "isnotempty":
        def isnotempty(row):
            value = argument(row)
            return value not in (None, "") and value != {} and value != []
        return isnotempty
    if function == "isempty":
        return lambda row: argument(row) in (None, "")
    return lambda row: not bool(argument(row))


def _membership(kind, left, values):
    if kind == "in~":
        texts = {_text(value).lower() for value in values}

        def in_folded(row):
            value = left(row)
            return value is not None and _text(value).lower() in texts
        return in_folded
    texts = {_text(value) for value in values}

    def in_exact(row):
        value = left(row)
        return value is not None and _text(value) in texts
    return in_exact


def _comparison(kind, left, right_node):
    right = compile_expression(right_node)
    if kind == "=~" and right_node[0] == "literal":
        folded = _text(right_node[1]).lower()        # a literal is never null

        def equal_folded_literal(row):
            value = left(row)
            return value is not None and _text(value).lower() == folded
        return equal_folded_literal

    def compare(row):
        left_value, right_value = left(row), right(row)
        if left_value is None or right_value is None:
            return kind in ("!=", "!~") and (left_value is None) != (right_value is None)
        if kind == "==":
            return left_value == right_value
        if kind == "!=":
            return left_value != right_value
        equal = _text(left_value).lower() == _text(right_value).lower()
        return equal if kind == "=~" else not equal
    return compare


def _key(value):
    """A join key as Kusto compares it: by value, dynamic values by their JSON text."""
    return _text(value) if isinstance(value, (dict, list)) else value


def _join(left, right, flavor, column):
    """Kusto's join of ``left`` and ``right`` rows on ``column`` (see the module docstring)."""
    index = {}
    for row in right:
        key = _key(row.get(column))
        if key is not None:
            index.setdefault(key, []).append(row)
    right_columns, left_columns = [], {name for row in left for name in row}
    for row in right:
        right_columns.extend(name for name in row if name not in right_columns)
    renamed = [(name, name + "1" if name in left_columns else name) for name in right_columns]
    out, seen = [], set()
    for row in left:
        key = _key(row.get(column))
        if flavor == "innerunique":
            if key in seen:
                continue
            seen.add(key)
        matches = index.get(key, []) if key is not None else []
        if not matches and flavor == "leftouter":
            matches = [{}]
        for match in matches:
            joined = dict(row)
            for name, output in renamed:
                joined[output] = match.get(name)
            out.append(joined)
    return out


def _order(rows, columns):
    """Kusto's order by (see the module docstring): a stable sort, last column first."""
    for column, ascending in reversed(columns):
        present = [row for row in rows if row.get(column) is not None]
        missing = [row for row in rows if row.get(column) is None]
        present.sort(key=lambda row, name=column: _key(row[name]), reverse=not ascending)
        rows = missing + present if ascending else present + missing
    return rows


def _summarize(rows, aggregates, by):
    """Kusto's summarize with make_list (see the module docstring), groups in first-seen order."""
    groups = {}
    by = [(name, compile_expression(expression)) for name, expression in by]
    aggregates = [(name, function, compile_expression(expression)) for name, function, expression in aggregates]
    for row in rows:
        keys = {name: expression(row) for name, expression in by}
        group = groups.setdefault(tuple(_key(value) for value in keys.values()),
                                  dict(keys, **{name: [] for name, _, _ in aggregates}))
        for name, _, expression in aggregates:
            value = expression(row)
            if value is not None:
                group[name].append(value)
    return list(groups.values())


def _extend(rows, assignments):
    """Kusto's extend, in place: ``rows`` are the pipeline's own."""
    for row in rows:
        for name, expression in assignments:
            row[name] = expression(row)
    return rows


def _distinct(rows, columns):
    """Kusto's distinct: the first row of each combination of values, in first-seen order."""
    distinct = {}
    for row in rows:
        picked = {name: expression(row) for name, expression in columns}
        distinct.setdefault(tuple(_key(value) for value in picked.values()), picked)
    return list(distinct.values())


def _compiled(operator, argument):
    """A stage's argument with its expressions compiled (compile_expression), once per stage."""
    if operator == "where":
        return compile_expression(argument)
    if operator in ("extend", "distinct", "project"):
        return [(name, compile_expression(expression)) for name, expression in argument]
    return argument


def _evaluate_pipeline(table, stages, tables):
    if table not in tables:
        raise KqlError("InvalidQueryLanguage", table, 1)
    # The table's rows are the caller's: they are copied before the first stage that would
    # change them in place (extend) or, at the latest, on the way out, so only the rows that
    # pass the first filters are copied. project, distinct, summarize and join make new rows.
    rows, own = tables[table], False
    for operator, argument in stages:
        argument = _compiled(operator, argument)
        if operator == "where":
            rows = [row for row in rows if argument(row)]
        elif operator == "extend":
            rows = _extend(rows if own else [dict(row) for row in rows], argument)
        elif operator == "distinct":
            rows = _distinct(rows, argument)
        elif operator == "join":
            flavor, (sub_table, sub_stages), column = argument
            rows = _join(rows, _evaluate_pipeline(sub_table, sub_stages, tables), flavor, column)
        elif operator == "order":
            rows = _order(rows, argument)
        elif operator == "summarize":
            rows = _summarize(rows, *argument)
        else:
            rows = [{name: expression(row) for name, expression in argument} for row in rows]
        own = own or operator in ("extend", "distinct", "join", "summarize", "project")
    return rows if own else [dict(row) for row in rows]


def joins(query):
    """The tables a query joins, in order (for checking Resource Graph's join limits)."""
    found = []

    def walk(stages):
        for operator, argument in stages:
            if operator == "join":
                found.append(argument[1][0])
                walk(argument[1][1])
    table, stages = Parser(query).pipeline()
    walk(stages)
    return table, found


def summarizes(query):
    """Whether the query's own pipeline (not a join's subquery) summarizes."""
    _, stages = Parser(query).pipeline()
    return any(operator == "summarize" for operator, _ in stages)


def run(query, tables):
    """Rows of ``query`` over ``tables`` ({name: [row]}); raises KqlError."""
    table, stages = Parser(query).pipeline()
    return _evaluate_pipeline(table, stages, tables)
