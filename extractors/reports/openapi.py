"""API documentation coverage of an OpenAPI 2 (Swagger) or 3.x description.

An operation counts as documented when it has a non-empty summary or description; every
parameter (path-level and operation-level, an operation-level one replacing a path-level
one with the same name and location) has a non-empty description; every response has a
non-empty description; and every 2xx response other than 204 and 205 has a schema (OAS 3:
`content.<media type>.schema` in at least one media type; OAS 2: `schema`), except for
HEAD operations. 3xx responses need no schema. Local `$ref`s (`#/...`) are followed,
with cycle protection; an external or broken `$ref` makes the operation undocumented
with the reason "unresolved $ref ...". `README.md` next to this module has the full text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import unquote

import yaml

from extractors.reports.errors import InvalidReport
from extractors.reports.sources import Source, load_json, open_source

_OAS2_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")
_OAS3_METHODS = _OAS2_METHODS + ("trace",)
_NO_CONTENT = ("204", "205")


@dataclass(frozen=True)
class OperationDocumentation:
    method: str  # upper case, e.g. "GET"
    path: str
    operation_id: str | None
    documented: bool
    reasons: tuple[str, ...]  # why it is not documented; empty when it is


@dataclass(frozen=True)
class OpenApiReport:
    kind: ClassVar[str] = "openapi"
    format: str  # "openapi-2" or "openapi-3"
    spec_version: str  # as written: "2.0", "3.0.3", "3.1.0"
    title: str | None
    operations: tuple[OperationDocumentation, ...]
    problems: tuple[str, ...] = ()  # path items that could not be read (their operations are unknown)

    @property
    def documented(self) -> int:
        return sum(operation.documented for operation in self.operations)

    @property
    def ratio(self) -> float | None:
        """Documented / operations; None for a description without operations."""
        return self.documented / len(self.operations) if self.operations else None


class _UnresolvedRef(Exception):
    pass


class _Resolver:
    def __init__(self, document: dict[str, Any], reference_siblings_override: bool) -> None:
        self.document = document
        # OAS 3.1 lets a Reference Object's own summary/description replace the target's.
        self.reference_siblings_override = reference_siblings_override

    def _pointer(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise _UnresolvedRef(f"unresolved $ref {ref!r} (external references are not followed)")
        target: Any = self.document
        for token in ref[1:].split("/")[1:]:
            token = unquote(token).replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and token in target:
                target = target[token]
            elif isinstance(target, list) and token.isdigit() and int(token) < len(target):
                target = target[int(token)]
            else:
                raise _UnresolvedRef(f"unresolved $ref {ref!r} (no such location)")
        return target

    def resolve(self, value: Any) -> Any:
        """`value` with its `$ref` chain followed; raises _UnresolvedRef."""
        seen: list[str] = []
        overrides: dict[str, Any] = {}
        while isinstance(value, dict) and isinstance(value.get("$ref"), str):
            ref = value["$ref"]
            if ref in seen:
                raise _UnresolvedRef(f"unresolved $ref {ref!r} (circular: {' -> '.join(seen + [ref])})")
            seen.append(ref)
            if self.reference_siblings_override:
                overrides = {key: value[key] for key in ("summary", "description") if key in value} | overrides
            value = self._pointer(ref)
        if overrides and isinstance(value, dict):
            return value | overrides
        return value


def _has_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_2xx(code: str) -> bool:
    return len(code) == 3 and code[0] == "2" and (code[1:].isdigit() or code[1:].upper() == "XX")


class _Evaluator:
    def __init__(self, document: dict[str, Any], oas2: bool, spec_version: str) -> None:
        self.oas2 = oas2
        self.resolver = _Resolver(document, reference_siblings_override=spec_version.startswith("3.1"))

    def _parameters(self, path_level: Any, operation_level: Any, reasons: list[str]) -> list[dict[str, Any]]:
        by_key: dict[tuple[Any, Any], dict[str, Any]] = {}
        for parameter in _as_list(path_level) + _as_list(operation_level):
            try:
                resolved = self.resolver.resolve(parameter)
            except _UnresolvedRef as error:
                reasons.append(f"{error} in parameters")
                continue
            if isinstance(resolved, dict):
                by_key[(resolved.get("name"), resolved.get("in"))] = resolved
        return list(by_key.values())

    def _has_schema(self, code: str, response: dict[str, Any], reasons: list[str]) -> bool:
        if self.oas2:
            schemas = [response["schema"]] if "schema" in response else []
        else:
            content = response.get("content")
            schemas = [media["schema"] for media in (content.values() if isinstance(content, dict) else [])
                       if isinstance(media, dict) and "schema" in media]
        for schema in schemas:
            try:
                self.resolver.resolve(schema)
                return True
            except _UnresolvedRef as error:
                reasons.append(f"{error} in the schema of response '{code}'")
        return False

    def operation(self, method: str, path: str, operation: dict[str, Any],
                  path_parameters: Any) -> OperationDocumentation:
        reasons: list[str] = []
        if not (_has_text(operation.get("summary")) or _has_text(operation.get("description"))):
            reasons.append("no summary or description")
        for parameter in self._parameters(path_parameters, operation.get("parameters"), reasons):
            if not _has_text(parameter.get("description")):
                reasons.append(f"parameter '{parameter.get('name')}' ({parameter.get('in')}) has no description")
        responses = operation.get("responses")
        for code, response in (responses.items() if isinstance(responses, dict) else []):
            code = str(code)
            try:
                response = self.resolver.resolve(response)
            except _UnresolvedRef as error:
                reasons.append(f"{error} in response '{code}'")
                continue
            response = response if isinstance(response, dict) else {}
            if not _has_text(response.get("description")):
                reasons.append(f"response '{code}' has no description")
            needs_schema = method != "head" and _is_2xx(code) and code not in _NO_CONTENT
            if needs_schema and not self._has_schema(code, response, reasons):
                reasons.append(f"response '{code}' has no schema")
        operation_id = operation.get("operationId")
        return OperationDocumentation(method.upper(), path, operation_id if isinstance(operation_id, str) else None,
                                      not reasons, tuple(reasons))


def documentation_coverage(document: Any) -> OpenApiReport:
    """Per-operation documentation coverage of a loaded OpenAPI 2 or 3.x document."""
    if not isinstance(document, dict):
        raise InvalidReport("an OpenAPI description must be an object")
    spec_version = document.get("openapi", document.get("swagger"))
    spec_version = str(spec_version) if spec_version is not None else ""
    oas2 = spec_version.startswith("2")
    if not (oas2 or spec_version.startswith("3.")):
        raise InvalidReport(f"OpenAPI version {spec_version!r} is not supported (expected 2.0 or 3.x)")
    paths = document.get("paths") or {}
    if not isinstance(paths, dict):
        raise InvalidReport("'paths' must be an object")
    evaluator = _Evaluator(document, oas2, spec_version)
    operations, problems = [], []
    for path, item in paths.items():
        try:
            item = evaluator.resolver.resolve(item)
        except _UnresolvedRef as error:
            problems.append(f"path {path!r}: {error}")
            continue
        if not isinstance(item, dict):
            problems.append(f"path {path!r} is not an object")
            continue
        for method in _OAS2_METHODS if oas2 else _OAS3_METHODS:
            if isinstance(item.get(method), dict):
                operations.append(evaluator.operation(method, path, item[method], item.get("parameters")))
    info = document.get("info") if isinstance(document.get("info"), dict) else {}
    title = info.get("title") if isinstance(info.get("title"), str) else None
    return OpenApiReport("openapi-2" if oas2 else "openapi-3", spec_version, title, tuple(operations), tuple(problems))


def load_yaml(stream: Any) -> Any:
    try:
        return yaml.safe_load(stream)
    except yaml.YAMLError as error:
        raise InvalidReport(f"malformed or truncated YAML: {error}") from None


def parse_openapi(source: Source, *, yaml_text: bool = False) -> OpenApiReport:
    """An OpenAPI description in JSON (optionally gzipped) or, with `yaml_text`, YAML.

    Both are loaded whole: `$ref`s may point anywhere in the document.
    """
    with open_source(source) as stream:
        return documentation_coverage(load_yaml(stream) if yaml_text else load_json(stream))
