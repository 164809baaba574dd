"""A safe parser for the JQL subset the simulator serves (a tokenizer, never eval).

Grammar (keywords case-insensitive):

    query   := [clause (AND clause)*] [ORDER BY sortkey ("," sortkey)*]
    clause  := field ("=" | "!=" | ">" | ">=" | "<" | "<=") value
             | field ["NOT"] "IN" "(" value ("," value)* ")"
    field   := project | issuetype | type | key | issuekey | status | updated | created
    value   := word | "double-quoted" | 'single-quoted'   (backslash escapes inside quotes)
    sortkey := (updated | created | key | issuekey | id) [ASC | DESC]

Date values: "yyyy-MM-dd HH:mm", "yyyy/MM/dd HH:mm", "yyyy-MM-dd", "yyyy/MM/dd"
(taken as UTC), or relative "-3d", "-12h", "-30m", "-2w" from the simulated now.
Anything else (OR, NOT clauses, functions, ~, IS EMPTY, unknown fields) raises
`JqlError` with a message in Jira's words where Jira has one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


class JqlError(ValueError):
    pass


@dataclass
class Clause:
    field: str  # canonical: project, issuetype, key, status, updated, created
    operator: str  # =, !=, >, >=, <, <=, in, not in
    values: list[str]


@dataclass
class Query:
    clauses: list[Clause] = field(default_factory=list)
    order_by: list[tuple[str, str]] = field(default_factory=list)  # (field, ASC|DESC)


FIELD_ALIASES = {"project": "project", "issuetype": "issuetype", "type": "issuetype", "key": "key",
                 "issuekey": "key", "id": "key", "status": "status", "updated": "updated",
                 "updateddate": "updated", "created": "created", "createddate": "created"}
DATE_FIELDS = {"updated", "created"}
SORT_FIELDS = {"updated": "updated", "created": "created", "key": "key", "issuekey": "key", "id": "id"}
OPERATORS = ("!=", ">=", "<=", "=", ">", "<")

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>!=|>=|<=|=|>|<|!~|~)
  | (?P<punct>[(),])
  | (?P<word>[A-Za-z0-9_.\-/:+]+)
""", re.VERBOSE | re.DOTALL)


@dataclass
class Token:
    kind: str  # string, op, punct, word
    text: str  # unescaped value for strings

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


def tokenize(jql: str) -> list[Token]:
    tokens, position = [], 0
    while position < len(jql):
        found = _TOKEN.match(jql, position)
        if found is None:
            raise JqlError(f"Error in the JQL Query: The character '{jql[position]}' is a reserved JQL character. "
                           f"You must enclose it in a string or use the escape '\\u{ord(jql[position]):04x}' "
                           f"instead. (line 1, character {position + 1})")
        kind = found.lastgroup or ""
        text = found.group()
        position = found.end()
        if kind == "space":
            continue
        if kind == "string":
            text = re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text[1:-1])
        tokens.append(Token(kind, text))
    return tokens


def parse(jql: str) -> Query:
    tokens = tokenize(jql or "")
    query = Query()
    index = 0

    def peek(offset: int = 0) -> Token | None:
        return tokens[index + offset] if index + offset < len(tokens) else None

    def take() -> Token:
        nonlocal index
        if index >= len(tokens):
            raise JqlError("Error in the JQL Query: Expecting more input at the end of the query.")
        index += 1
        return tokens[index - 1]

    def value() -> str:
        token = take()
        if token.kind == "string" or (token.kind == "word" and not token.is_word("and", "or", "not", "order")):
            if token.kind == "word" and peek() is not None and peek().kind == "punct" and peek().text == "(":
                raise JqlError(f"The simulator's JQL subset does not support functions ('{token.text}()').")
            return token.text
        raise JqlError(f"Error in the JQL Query: Expecting either a value, list or function but got "
                       f"'{token.text}'.")

    expect_clause = True
    while index < len(tokens):
        token = peek()
        if token.is_word("order") and peek(1) is not None and peek(1).is_word("by"):
            index += 2
            query.order_by = _order_by(tokens[index:])
            index = len(tokens)
            break
        if not expect_clause:
            if token.is_word("and"):
                take()
                expect_clause = True
                continue
            if token.is_word("or"):
                raise JqlError("The simulator's JQL subset does not support 'OR'; combine clauses with AND.")
            raise JqlError(f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{token.text}'.")
        if token.is_word("not") or (token.kind == "punct" and token.text == "("):
            raise JqlError(f"The simulator's JQL subset does not support '{token.text}' here.")
        name = take()
        if name.kind not in ("word", "string"):
            raise JqlError(f"Error in the JQL Query: Expecting a field name but got '{name.text}'.")
        canonical = FIELD_ALIASES.get(name.text.lower())
        if canonical is None:
            raise JqlError(f"Field '{name.text}' does not exist or you do not have permission to view it.")
        operator_token = take()
        if operator_token.kind == "op":
            operator = operator_token.text
            if operator not in OPERATORS:
                raise JqlError(f"The operator '{operator}' is not supported by the '{name.text}' field.")
            values = [value()]
        elif operator_token.is_word("in") or (operator_token.is_word("not") and peek() is not None
                                              and peek().is_word("in")):
            if operator_token.is_word("not"):
                take()
                operator = "not in"
            else:
                operator = "in"
            opening = take()
            if opening.kind == "word" and peek() is not None and peek().kind == "punct" and peek().text == "(":
                raise JqlError(f"The simulator's JQL subset does not support functions ('{opening.text}()').")
            if opening.kind != "punct" or opening.text != "(":
                raise JqlError(f"Error in the JQL Query: Expecting '(' but got '{opening.text}'.")
            values = [value()]
            while True:
                separator = take()
                if separator.kind == "punct" and separator.text == ")":
                    break
                if separator.kind != "punct" or separator.text != ",":
                    raise JqlError(f"Error in the JQL Query: Expecting ',' or ')' but got '{separator.text}'.")
                values.append(value())
        else:
            raise JqlError(f"The simulator's JQL subset does not support the operator '{operator_token.text}'.")
        if canonical in DATE_FIELDS:
            if operator in ("in", "not in"):
                raise JqlError(f"The operator '{operator.upper()}' is not supported by the '{name.text}' field.")
        elif operator not in ("=", "!=", "in", "not in"):
            raise JqlError(f"The operator '{operator}' is not supported by the '{name.text}' field.")
        query.clauses.append(Clause(canonical, operator, values))
        expect_clause = False
    if expect_clause and query.clauses:
        raise JqlError("Error in the JQL Query: Expecting a field name at the end of the query.")
    return query


def _order_by(tokens: list[Token]) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    index = 0
    while True:
        if index >= len(tokens):
            raise JqlError("Error in the JQL Query: Expecting a field name after 'ORDER BY'.")
        name = tokens[index]
        canonical = SORT_FIELDS.get(name.text.lower()) if name.kind in ("word", "string") else None
        if canonical is None:
            raise JqlError(f"Not able to sort using field '{name.text}'.")
        index += 1
        direction = "ASC"
        if index < len(tokens) and tokens[index].is_word("asc", "desc"):
            direction = tokens[index].text.upper()
            index += 1
        keys.append((canonical, direction))
        if index >= len(tokens):
            return keys
        if tokens[index].kind == "punct" and tokens[index].text == ",":
            index += 1
            continue
        raise JqlError(f"Error in the JQL Query: Expecting ',' but got '{tokens[index].text}'.")


_RELATIVE = re.compile(r"^([-+]?)(\d+)([wdhm])$")
_DATE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")


def parse_date(text: str, field_name: str, now: datetime) -> datetime:
    stripped = text.strip()
    relative = _RELATIVE.match(stripped)
    if relative:
        sign = -1 if relative.group(1) == "-" else 1
        unit = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}[relative.group(3)]
        return now + sign * timedelta(**{unit: int(relative.group(2))})
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(stripped, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise JqlError(f"Date value '{text}' for field '{field_name}' is invalid. Valid formats include: "
                   f"'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format "
                   f"e.g. '-5d', '4w 2d'.")
