#!/usr/bin/env python3
"""Golden values for the `suites` crate, computed with scikit-learn / numpy / scipy.

Writes
  fixtures/golden/metrics/inputs.json    seeded synthetic predictions (logits) + latency samples
  fixtures/golden/metrics/expected.json  the reference metrics
which `suites/tests/golden_sklearn.rs` reads (tolerance 1e-9; 1e-6 for the fitted temperature
and everything computed at it).

Run (not part of CI; versions pinned in tools/golden/requirements.txt):
  python3 -m venv /tmp/golden-venv
  /tmp/golden-venv/bin/pip install -r tools/golden/requirements.txt
  /tmp/golden-venv/bin/python tools/golden/make_metrics_golden.py

Definitions that scikit-learn does not provide are written here from their papers, independently
of the Rust code:
  ECE / MCE (Guo et al. 2017): 15 equal-width bins ((m-1)/15, m/15]; equal-mass bins = rows sorted
  by (confidence, correct) and cut with numpy.array_split into 15 parts.
  Multi-class Brier: mean over rows of sum_k (p_k - onehot_k)^2.
  Wilson score interval: the closed form with z = scipy.stats.norm.ppf(0.975).
  AURC: mean over rows i of the error rate among rows with confidence >= confidence_i.
"""

import json
import math
import os

import numpy as np
import scipy
import sklearn
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax
from scipy.stats import binomtest, norm
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
    top_k_accuracy_score,
)

SEED = 20261204
CLASSES = ["beach", "forest", "mountain", "kitchen", "bedroom", "street", "restaurant",
           "office", "living room", "park"]
C = len(CLASSES)
N_TEST, N_VAL = 500, 300
BINS = 15
THRESHOLD = 0.40
TARGET = 0.9

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
OUT = os.path.join(ROOT, "fixtures", "golden", "metrics")

rng = np.random.default_rng(SEED)


def make_logits(labels, signal, scale):
    """Noisy logits with a boost on the true class; `scale` > 1 makes them overconfident."""
    z = rng.normal(0.0, 1.0, size=(len(labels), C))
    z[np.arange(len(labels)), labels] += rng.uniform(0.0, signal, size=len(labels))
    # Confuse living room (8) with bedroom (4) and office (7) with restaurant (6) a little more.
    for a, b in [(8, 4), (7, 6)]:
        rows = labels == a
        z[rows, b] += rng.uniform(0.0, 1.5, size=rows.sum())
    return np.round(z * scale, 6)  # 6 decimals keep the fixture small; exact in JSON


y_test = rng.integers(0, C, size=N_TEST)
y_val = rng.integers(0, C, size=N_VAL)
z_test = make_logits(y_test, 3.0, 2.5)
z_test_b = make_logits(y_test, 2.6, 2.5)  # a second model on the same images (McNemar)
z_val = make_logits(y_val, 3.0, 2.5)
latency = rng.lognormal(mean=np.log(12.0), sigma=0.25, size=237)


def wilson(k, n, z=norm.ppf(0.975)):
    p = k / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return [max(0.0, center - half), min(1.0, center + half)]


def ece_mce(conf, correct):
    bins = np.clip(np.ceil(conf * BINS).astype(int) - 1, 0, BINS - 1)
    ece, mce = 0.0, 0.0
    rel = []
    for b in range(BINS):
        m = bins == b
        if m.sum() == 0:
            rel.append([0, None, None])
            continue
        gap = abs(correct[m].mean() - conf[m].mean())
        ece += m.sum() / len(conf) * gap
        mce = max(mce, gap)
        rel.append([int(m.sum()), float(conf[m].mean()), float(correct[m].mean())])
    return ece, mce, rel


def ece_mass(conf, correct):
    order = np.lexsort((correct.astype(int), conf))  # by confidence, then correct
    ece = 0.0
    for part in np.array_split(order, BINS):
        if len(part) == 0:
            continue
        ece += len(part) / len(conf) * abs(correct[part].mean() - conf[part].mean())
    return ece


def aurc(conf, correct):
    risks = [np.mean(~correct[conf >= c]) for c in conf]
    return float(np.mean(risks))


def lowest_threshold(conf, correct, target):
    best = None
    for t in np.unique(conf)[::-1]:  # descending
        acc = correct[conf >= t].mean()
        if acc >= target:
            best = t
    return None if best is None else float(best)


def calibration(z, y, t):
    p = softmax(z / t, axis=1)
    pred = z.argmax(axis=1)
    conf = p.max(axis=1)
    correct = pred == y
    onehot = np.eye(C)[y]
    ece, mce, rel = ece_mce(conf, correct)
    accepted = conf >= THRESHOLD
    return {
        "ece_15": ece,
        "ece_15_mass": ece_mass(conf, correct),
        "mce_15": mce,
        "brier": float(np.mean(np.sum((p - onehot) ** 2, axis=1))),
        "nll": float(-np.mean(log_softmax(z / t, axis=1)[np.arange(len(y)), y])),
        "nll_sklearn_log_loss": float(log_loss(y, p, labels=list(range(C)))),
        "coverage": float(accepted.mean()),
        "selective_acc": float(correct[accepted].mean()),
        "errors_flagged": float((~accepted[~correct]).mean()),
        "correct_flagged": float((~accepted[correct]).mean()),
        "aurc": aurc(conf, correct),
        "threshold_for_selective_acc": lowest_threshold(conf, correct, TARGET),
        "reliability_equal_width": rel,
    }


def val_nll(u):
    return float(-np.mean(log_softmax(z_val / math.exp(u), axis=1)[np.arange(N_VAL), y_val]))


opt = minimize_scalar(val_nll, bounds=(math.log(0.01), math.log(100.0)), method="bounded",
                      options={"xatol": 1e-10})
temperature = math.exp(opt.x)

pred = z_test.argmax(axis=1)
pred_b = z_test_b.argmax(axis=1)
labels = list(range(C))
p_cls, r_cls, f_cls, s_cls = precision_recall_fscore_support(
    y_test, pred, labels=labels, average=None, zero_division=0)
macro = precision_recall_fscore_support(y_test, pred, average="macro", zero_division=0)
micro = precision_recall_fscore_support(y_test, pred, average="micro", zero_division=0)
right_a, right_b = pred == y_test, pred_b == y_test
only_a = int(np.sum(right_a & ~right_b))
only_b = int(np.sum(~right_a & right_b))
cm = confusion_matrix(y_test, pred, labels=labels)
n_correct = int(right_a.sum())

expected = {
    "versions": {"numpy": np.__version__, "scikit-learn": sklearn.__version__,
                 "scipy": scipy.__version__},
    "accuracy": {
        "top1_acc": float(accuracy_score(y_test, pred)),
        "top5_acc": float(top_k_accuracy_score(y_test, z_test, k=5, labels=labels)),
        "balanced_acc": float(balanced_accuracy_score(y_test, pred)),
        "precision": p_cls.tolist(),
        "recall": r_cls.tolist(),
        "f1": f_cls.tolist(),
        "support": s_cls.tolist(),
        "macro_precision": float(macro[0]),
        "macro_recall": float(macro[1]),
        "macro_f1": float(macro[2]),
        "micro_precision": float(micro[0]),
        "micro_recall": float(micro[1]),
        "micro_f1": float(micro[2]),
        "top1_wilson": wilson(n_correct, N_TEST),
        "mcnemar": {"only_a": only_a, "only_b": only_b,
                    "p_value": float(binomtest(only_a, only_a + only_b, 0.5).pvalue)},
    },
    "confusion_matrix": cm.tolist(),
    "pair_rate_living_room_to_bedroom": {
        "count": int(cm[8, 4]), "n": int(cm[8].sum()),
        "rate": float(cm[8, 4] / cm[8].sum()), "wilson": wilson(int(cm[8, 4]), int(cm[8].sum())),
    },
    "calibration": {
        "temperature": temperature,
        "uncalibrated": calibration(z_test, y_test, 1.0),
        "calibrated": calibration(z_test, y_test, temperature),
    },
    "latency": {
        "p50": float(np.percentile(latency, 50)),
        "p90": float(np.percentile(latency, 90)),
        "p99": float(np.percentile(latency, 99)),
        "mean": float(np.mean(latency)),
        "std": float(np.std(latency, ddof=1)),
        "min": float(latency.min()),
        "max": float(latency.max()),
    },
}

inputs = {
    "seed": SEED,
    "classes": CLASSES,
    "threshold": THRESHOLD,
    "target_selective_acc": TARGET,
    "test": {"image_ids": [f"test/{i:04d}.jpg" for i in range(N_TEST)],
             "labels": y_test.tolist(), "logits": z_test.tolist()},
    "test_b": {"logits": z_test_b.tolist()},
    "val": {"image_ids": [f"val/{i:04d}.jpg" for i in range(N_VAL)],
            "labels": y_val.tolist(), "logits": z_val.tolist()},
    "latency_ms": latency.tolist(),
}

os.makedirs(OUT, exist_ok=True)
with open(os.path.join(OUT, "inputs.json"), "w") as f:
    json.dump(inputs, f)
with open(os.path.join(OUT, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
print(json.dumps({k: expected["accuracy"][k] for k in ["top1_acc", "top5_acc", "balanced_acc"]}),
      "T =", temperature, "ECE =", expected["calibration"]["uncalibrated"]["ece_15"],
      "->", expected["calibration"]["calibrated"]["ece_15"],
      "McNemar", expected["accuracy"]["mcnemar"])
