"""The public API is pinned: adding or removing a name is a deliberate change."""

import cxlens


def test_public_names_are_pinned():
    assert cxlens.__all__ == [
        "ConfigError",
        "CxlensError",
        "Filters",
        "ImportFileError",
        "ImportResult",
        "Journey",
        "MissingExtraError",
        "NotFoundError",
        "ParameterError",
        "QueryError",
        "SchemaError",
        "Workspace",
        "WorkspaceError",
        "__version__",
        "connect",
        "default_journey",
        "open",
    ]
    for name in cxlens.__all__:
        assert hasattr(cxlens, name)


def test_errors_form_one_tree_and_subclass_builtins():
    for err in (
        cxlens.SchemaError,
        cxlens.ConfigError,
        cxlens.NotFoundError,
        cxlens.WorkspaceError,
        cxlens.MissingExtraError,
    ):
        assert issubclass(err, cxlens.CxlensError)
    assert issubclass(cxlens.SchemaError, ValueError) and issubclass(cxlens.NotFoundError, KeyError)
    assert str(cxlens.NotFoundError("no such thing")) == "no such thing"
