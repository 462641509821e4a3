"""``md-orderml info``: show a model file's metadata."""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    """Register the ``info`` subcommand."""
    p = sub.add_parser("info", help="show a model file's metadata")
    p.add_argument("--model", default="default", help="model file, or 'default'")
    p.add_argument("--json", action="store_true", help="print the metadata as JSON (with 'path')")
    p.set_defaults(run=run)


def run(args) -> int:
    """Run ``md-orderml info``."""
    from md_orderml.model_file import read_metadata, resolve_model_path

    path = resolve_model_path(args.model).resolve()
    meta = read_metadata(path)
    if args.json:
        print(json.dumps({"path": str(path), **meta}, indent=1))
        return 0
    arch = meta.get("architecture", {})
    print(f"model file     {path}")
    print(f"format         {meta['format']} v{meta['format_version']} (md_orderml {meta.get('md_orderml_version')})")
    if meta.get("task", "classification") == "regression":
        print("task           regression (per-particle values)")
        print(f"values         {', '.join(meta.get('value_names') or [])}")
        info = meta.get("value_info") or {}
        if info.get("description"):
            print(f"value meaning  {info['description']}")
    else:
        print(f"classes        {', '.join(meta['class_names'])}")
    print(f"types          {', '.join(meta.get('type_names') or []) or 'any (type-agnostic)'}")
    if meta.get("dimensions", 3) == 2:
        print("dimensions     2 (x-y plane, length scale (A/N)^(1/2), periodic in x and y)")
    print(f"cutoff         {meta['cutoff']} x length scale ({meta.get('length_scale')})")
    print(f"receptive field {meta['receptive_field']} x length scale ({meta.get('n_layers')} layers)")
    rule = meta.get("isolated_crystal_rule")
    if rule:
        print(f"crystal rule   {', '.join(rule['crystal_classes'])} need >= {rule['min_neighbours']} crystal-labelled "
              f"neighbours within {rule['radius']} x length scale, else {rule['relabel']}")
    print(f"architecture   {arch.get('family')} " + ", ".join(f"{k}={v}" for k, v in arch.items() if k != 'family'))
    training = meta.get("training", {})
    if training.get("method") == "probe":
        print(f"training       {training.get('kind', '?')}, logistic probe on the frozen backbone "
              f"(seed {training.get('seed', '?')})")
    else:
        print(f"training       {training.get('kind', '?')}, {training.get('epochs', '?')} epochs")
    return 0
