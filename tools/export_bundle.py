#!/usr/bin/env python3
"""Export the original Python design's pickles into a model bundle this service reads.

    python tools/export_bundle.py --churn churn_model.pkl --forest causal_forest.pkl \
        --scaler scaler.pkl --columns feature_columns.pkl --impute-from train.csv --out models-new/

Writes churn_model.txt (LightGBM's own text format, Booster.save_model), causal_forest.safetensors
(format "econml-causal-forest/1": the final-stage GRF forest of an EconML CausalForestDML with a
discrete treatment, featurizer=None, fit_intercept=True), feature_columns.json and scaler.json.
Copy manifest.json and interventions.json from the default bundle and adapt them; then run
`churn reference --models OUT --train TRAIN.csv`. Needs numpy, pandas, joblib, lightgbm and econml
(the versions that wrote the pickles); it is not run by the project's tests (no Python ML stack
there) — check the result with `churn score` / `churn effects` against the libraries' predictions.
"""
import argparse
import json
import os

import joblib
import numpy as np
import pandas as pd


def export_lightgbm(model, path):
    booster = model.booster_ if hasattr(model, "booster_") else model
    booster.save_model(path)


def export_forest(est, columns, path):
    forest = est.model_final_.estimators_[0] if hasattr(est.model_final_, "estimators_") else est.model_final_
    trees = forest.estimators_
    offsets, left, right, feature, threshold, leaf_index = [0], [], [], [], [], []
    alphas, jacs = [], []
    p = forest.n_outputs_
    for tree in trees:
        t = tree.tree_
        is_leaf = t.children_left == -1
        rows = np.full(t.node_count, -1, dtype=np.int32)
        rows[is_leaf] = np.arange(is_leaf.sum()) + sum(len(a) for a in alphas)
        left.append(t.children_left.astype(np.int32))
        right.append(t.children_right.astype(np.int32))
        feature.append(t.feature.astype(np.int32))
        threshold.append(t.threshold.astype(np.float64))
        leaf_index.append(rows)
        alphas.append(tree.get_alpha()[is_leaf].reshape(-1, p) if hasattr(tree, "get_alpha") else t.precond[is_leaf].reshape(-1, p))
        jacs.append(tree.get_jac()[is_leaf].reshape(-1, p, p) if hasattr(tree, "get_jac") else t.jac[is_leaf].reshape(-1, p, p))
        offsets.append(offsets[-1] + t.node_count)
    slices = forest.slices_
    sub = [s[0] for s in slices] + [slices[-1][1]]
    categories = [str(c) for c in est.transformer.categories_[0]] if est.transformer is not None else None
    tensors = {
        "tree_node_offsets": np.array(offsets, dtype=np.int32),
        "children_left": np.concatenate(left), "children_right": np.concatenate(right),
        "feature": np.concatenate(feature), "threshold": np.concatenate(threshold),
        "leaf_index": np.concatenate(leaf_index),
        "leaf_alpha": np.ascontiguousarray(np.concatenate(alphas), dtype=np.float64),
        "leaf_jac": np.ascontiguousarray(np.concatenate(jacs), dtype=np.float64),
        "subforest_offsets": np.array(sub, dtype=np.int32),
    }
    n_relevant = p - (1 if est.fit_cate_intercept else 0)
    metadata = {
        "format": "econml-causal-forest/1", "econml_version": __import__("econml").__version__,
        "treatments": json.dumps(categories), "control": categories[0], "treatment_columns": json.dumps(categories[1:]),
        "n_features": str(len(columns)), "feature_columns": json.dumps(list(columns)),
        "n_trees": str(len(trees)), "n_nodes": str(offsets[-1]), "n_leaves": str(len(tensors["leaf_alpha"])),
        "n_outputs": str(p), "n_relevant_outputs": str(n_relevant), "fit_intercept": json.dumps(bool(est.fit_cate_intercept)),
        "n_subforests": str(len(slices)), "subforest_size": str(sub[1] - sub[0]),
    }
    write_safetensors(path, tensors, metadata)


def write_safetensors(path, tensors, metadata):
    """The safetensors container, written by hand so that the export needs no extra package."""
    dtypes = {np.dtype(np.float64): "F64", np.dtype(np.int32): "I32"}
    header, offset, blobs = {"__metadata__": metadata}, 0, []
    for name, array in tensors.items():
        data = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtypes[array.dtype], "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--churn", required=True)
    ap.add_argument("--forest", required=True)
    ap.add_argument("--scaler", required=True)
    ap.add_argument("--columns", required=True)
    ap.add_argument("--impute-from", required=True, help="training CSV: medians of the numeric columns")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    columns = list(joblib.load(a.columns))
    scaler = joblib.load(a.scaler)
    export_lightgbm(joblib.load(a.churn), os.path.join(a.out, "churn_model.txt"))
    export_forest(joblib.load(a.forest), columns, os.path.join(a.out, "causal_forest.safetensors"))
    train = pd.read_csv(a.impute_from)
    impute = {c: float(train[c].median()) for c in columns if c in train.columns and pd.api.types.is_numeric_dtype(train[c])}
    with open(os.path.join(a.out, "feature_columns.json"), "w") as f:
        json.dump(columns, f, indent=1)
    with open(os.path.join(a.out, "scaler.json"), "w") as f:
        json.dump({"columns": columns, "impute": impute, "mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist()}, f, indent=1)
    print(f"wrote {a.out}: now add manifest.json, interventions.json and run `churn reference`")


if __name__ == "__main__":
    main()
