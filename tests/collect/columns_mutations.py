"""Remove each safeguard of ``collect/columns.py`` in turn: the oracle test of ``test_columns.py`` must
fail for every one (not collected by pytest: ≈ 5 minutes).

    PYTHONPATH=src:. python tests/collect/columns_mutations.py
"""

import sys
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import test_columns as t  # noqa: E402

import cxlens.collect.columns as real  # noqa: E402

SRC = open(real.__file__).read()
MUTATIONS = {
    "batch-level context": ('if isinstance(data.get("context"), dict):', "if False:"),
    "every message a dict": ("if set(map(type, batch)) != {dict}:", "if False:"),
    "only known fields": ("if not _FIELDS.issuperset(fields):", "if False:"),
    "a track's name/category by message": ("if not _TRACK_UNUSED.isdisjoint(fields) and any(", "if False and any("),
    "track or page": ('if kinds.count("track") + pages != n:', "if False:"),
    "page name valid": ("    if None in names:\n", "    if False:\n"),
    "page name rule": ("_page_name(m, p, c, limits.max_string)", '(m.get("name") or "page")'),
    "page: by enrich_properties": ('                if k == "track"\n', "                if True\n"),
    "page: channel": ('if pages or "channel" in context_keys', 'if "channel" in context_keys'),
    "page: type column": ('kinds if pages else ["track"] * n', '["track"] * n'),
    "messageId str/len": ("_strings(ids, limits.max_id, required=True)", "True"),
    "userId str/len": ("and _strings(users, limits.max_id, required=False)", "and True"),
    "anonymousId str/len": ("and _strings(anons, limits.max_id, required=False)", "and True"),
    "messageId not empty": ('        or "" in ids\n', "        or False\n"),
    "blank userId is null": ('if "" in users:', "if False:"),
    "blank anonymousId is null": ('if "" in anons:', "if False:"),
    "one id required": ("if None in users and any(", "if False and any("),
    "event str/len": ("if not _strings(names, limits.max_string, required=True) or", "if"),
    "event not empty": ('required=True) or "" in names:', "required=True):"),
    "times are strings": ("if not set(map(type, at)) <= {str, _NONE}:", "if False:"),
    "props/context objects": (
        "if not set(map(type, props)) <= {dict, _NONE} or not set(map(type, contexts)) <= {dict, _NONE}:",
        "if False:",
    ),
    "reserved keys": ("if not RESERVED_KEYS.isdisjoint(prop_keys):", "if False:"),
    "shape: sentAt": ("if sent_raw is not None and not rejected_any", "if not rejected_any"),
    "shape: no rejected time": ("and not rejected_any and None not in at", "and None not in at"),
    "shape: every timestamp": ("and None not in at and all(contexts)", "and all(contexts)"),
    "shape: every context": ("and None not in at and all(contexts):", "and None not in at:"),
    "JSON length": ("if lengths.max() > limits.max_string:", "if False:"),
    "depth bound": ("if brackets.max() > limits.max_depth:", "if False:"),
    "depth bound counts [": (
        '(codes == _BRACE) | (codes == _BRACKET) if b"[" in blob else codes == _BRACE',
        "codes == _BRACE",
    ),
    "url not a plain string": ('if set(map(type, urls)) != {str} or "" in urls:', "if False:"),
    "session keys": ("if prop_keys.intersection(_SESSION) or context_keys.intersection(_SESSION):", "if False:"),
    "revenue": ('if "revenue" in prop_keys else None', "if False else None"),
    "touchpoint": ('if "touchpoint" in prop_keys else None', "if False else None"),
    "stage": ('if "stage" in prop_keys else None', "if False else None"),
    "channel/os in context": ('if pages or "channel" in context_keys or "os" in context_keys:', "if pages:"),
    "identity links": ("    if both:", "    if False:"),
    "distinct times": ("if len(at) == 1 else", "if True else"),
}
bad = 0
for name, (old, new) in MUTATIONS.items():
    assert SRC.count(old) == 1, name
    mod = types.ModuleType("cxlens.collect.columns")
    mod.__file__ = real.__file__
    exec(compile(SRC.replace(old, new), real.__file__, "exec"), mod.__dict__)
    t.parse_columns = mod.parse_columns
    try:
        t.test_column_path_gives_the_tables_links_and_errors_of_the_per_message_check()
        result = "NOT DETECTED"
        bad += 1
    except AssertionError as e:
        result = "fails: " + str(e).splitlines()[0][:90]
    except Exception as e:
        result = f"fails with {type(e).__name__}: {str(e)[:70]}"
    print(f"{name:28s} {result}", flush=True)
t.parse_columns = real.parse_columns
t.test_column_path_gives_the_tables_links_and_errors_of_the_per_message_check()
print("unmutated: passes;", bad, "mutations not detected")
