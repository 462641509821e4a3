"""``md-orderml info``: show a model file's metadata."""

from __future__ import annotations

import json


def add_parser(sub) -> None:
    """Register the ``info`` subcommand."""
    p = sub.add_parser("info", help="show a model file's metadata")
    p.add_argument("--model", default="default", help="model file, or 'default' or 'classic' (the shipped models)")
    p.add_argument("--json", action="store_true", help="print the metadata as JSON (with 'path' and 'sha256')")
    p.set_defaults(run=run)


def run(args) -> int:
    """Run ``md-orderml info``."""
    from md_orderml.model_file import file_sha256, read_metadata, resolve_model_path

    path = resolve_model_path(args.model).resolve()
    meta = read_metadata(path)
    sha256 = file_sha256(path)
    if args.json:
        print(json.dumps({"path": str(path), "sha256": sha256, **meta}, indent=1))
        return 0
    arch = meta.get("architecture", {})
    print(f"model file     {path}")
    print(f"sha256         {sha256}")
    print(f"format         {meta['format']} v{meta['format_version']} (md_orderml {meta.get('md_orderml_version')})")
    if meta.get("task", "classification") == "regression":
        print("task           regression (per-particle values)")
        print(f"values         {', '.join(meta.get('value_names') or [])}")
        info = meta.get("value_info") or {}
        if info.get("description"):
            print(f"value meaning  {info['description']}")
    else:
        print(f"classes        {', '.join(meta['class_names'])}")
        for line in class_lines(meta['class_names'], meta.get("class_info") or {}):
            print(line)
    print(f"types          {', '.join(meta.get('type_names') or []) or 'any (type-agnostic)'}")
    if meta.get("dimensions", 3) == 2:
        print("dimensions     2 (x-y plane, length scale (A/N)^(1/2), periodic in x and y)")
    print(f"cutoff         {meta['cutoff']} x length scale ({meta.get('length_scale')})")
    print(f"receptive field {meta['receptive_field']} x length scale ({meta.get('n_layers')} layers)")
    rule = meta.get("isolated_crystal_rule")
    if rule:
        print(f"crystal rule   {', '.join(rule['crystal_classes'])} need >= {rule['min_neighbours']} crystal-labelled "
              f"neighbours within {rule['radius']} x length scale, else {rule['relabel']}")
    unknown = meta.get("unknown_rule")
    if unknown:
        calibration = unknown.get("calibration", {})
        print(f"unknown rule   {unknown['relabel']} where the embedding's squared {unknown['method']} distance to its "
              f"class mean ({unknown['covariance']} covariance) exceeds the class's threshold: the "
              f"{unknown['quantile']:g} quantile (liquid {unknown.get('liquid_quantile', unknown['quantile']):g}) of "
              f"held-out particles (crystal noise <= {calibration.get('noise_max')})")
        if unknown.get("embedding_average"):
            print(f"               on the embedding averaged over neighbours within "
                  f"{unknown['embedding_average']['radius']:g} x length scale")
        if unknown.get("rescue"):
            rescue = unknown["rescue"]
            shares = ", ".join(f"{n} {f:g}" for n, f in rescue["min_fraction"].items())
            print(f"               rescue: an unknown particle takes its head's class where that share of its "
                  f"neighbours within {rescue['radius']:g} x length scale carry it ({shares}), {rescue['passes']} rounds")
        if unknown.get("liquid_fallback"):
            fallback = unknown["liquid_fallback"]
            print(f"               liquid fallback: an unknown particle within squared distance "
                  f"{fallback['threshold']:.4g} of a Gaussian of liquids becomes {fallback['relabel']} (the "
                  f"{fallback['quantile']:g} quantile of calibration liquids: {', '.join(fallback.get('liquids', []))})")
    print(f"architecture   {arch.get('family')} " + ", ".join(f"{k}={v}" for k, v in arch.items() if k != 'family'))
    training = meta.get("training", {})
    if training.get("kind") == "references":
        print(f"training       references ({', '.join(r['name'] for r in training.get('references', []))}), "
              f"{training.get('head', '?')} head on the frozen backbone {training.get('backbone', {}).get('source')}")
    elif training.get("method") == "probe":
        print(f"training       {training.get('kind', '?')}, logistic probe on the frozen backbone "
              f"(seed {training.get('seed', '?')})")
    else:
        print(f"training       {training.get('kind', '?')}, {training.get('epochs', '?')} epochs")
    return 0


def class_lines(class_names, class_info) -> list:
    """One line per class: label, name and, when the file records it, crystallography.

    Args:
        class_names: The model's class names, index = label.
        class_info: The ``class_info`` metadata record (may be empty).

    Returns:
        Lines such as ``"  6 a15          cP8    Cr3Si (A15), Pm-3n (223)"``.
    """
    lines = []
    for index, name in enumerate(class_names):
        info = class_info.get(name) or {}
        if info.get("pearson_symbol"):
            kind = info["prototype"] + (f" ({info['strukturbericht']})" if info.get("strukturbericht") else "")
            text = f"{info['pearson_symbol']:<6} {kind}, {info['space_group_symbol']} ({info['space_group_number']})"
        else:
            text = info.get("description", "")
        lines.append(f"  {index:>2} {name:<12} {text}".rstrip())
    return lines
