"""Churn risk: a calibrated gradient-boosting classifier with per-customer reasons.

The classifier is scikit-learn's histogram gradient boosting (Ke et al. 2017, "LightGBM"; Friedman
2001, "Greedy function approximation: a gradient boosting machine") wrapped in cross-validated
probability calibration (isotonic regression, Zadrozny & Elkan 2002; or Platt's sigmoid), so a
``churn_risk`` of 0.3 means about 30 % of such customers churn within the horizon.

**Reasons** (:meth:`ChurnModel.explain`) are SHAP-free local deltas: for customer *i* and feature
*j*, ``contribution = p(x_i) - p(x_i with x_ij := typical_j)`` where ``typical_j`` is the training
median (numbers) or the most frequent value (categories). A positive contribution is how much this
customer's value of the feature raises their risk above what a typical value would give. The top
positive contributions are the reasons. :meth:`ChurnModel.importance` gives global permutation
importance (drop in ROC-AUC when a feature is shuffled).

**Training on a workspace** (:func:`train_churn`) uses a time-based holdout; see
docs/churn-and-segments.md for the exact cutoffs and label definitions.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from cxlens.customers.clv_models import NotFittedError
from cxlens.customers.features import customer_features, data_range, has_behaviour
from cxlens.errors import ConfigError
from cxlens.metrics.common import DateLike, ts_literal

__all__ = [
    "ChurnModel",
    "ChurnTraining",
    "churn_labels",
    "evaluate_scores",
    "load_model",
    "logistic_baseline",
    "save_model",
    "score_churn",
    "train_churn",
]

CALIBRATIONS = ("isotonic", "sigmoid")
LABELS = ("auto", "churned_at", "inactivity")


def _frame(X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    a = np.asarray(X)
    if a.ndim != 2:
        raise ConfigError(f"features must be a 2-D table; got an array of shape {a.shape}; pass a DataFrame")
    return pd.DataFrame(a, columns=[f"x{i}" for i in range(a.shape[1])])


def _categorical(s: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s))


def evaluate_scores(y: Any, p: Any, *, bins: int = 10) -> dict[str, Any]:
    """ROC-AUC, PR-AUC (average precision), Brier score, lift at the top decile and a calibration table.

    ``lift_top_decile`` is the churn rate among the ``ceil(n/10)`` highest scores divided by the
    overall rate. ``calibration`` has one row per decile of the score (by rank): ``n``,
    ``mean_predicted`` and ``observed_rate``.

    Examples
    --------
    >>> r = evaluate_scores([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> round(r["roc_auc"], 4), round(r["brier"], 6)
    (0.75, 0.158125)
    """
    y = np.asarray(y, dtype="int64").ravel()
    p = np.asarray(p, dtype="float64").ravel()
    n, pos = len(y), int(y.sum())
    if n == 0 or pos == 0 or pos == n:
        raise ConfigError(f"evaluation needs both churners and non-churners; got {pos} churners of {n} customers")
    base = pos / n
    order = np.argsort(-p, kind="mergesort")
    top = max(1, math.ceil(n / 10))
    rank = pd.Series(p).rank(method="first").to_numpy()
    decile = np.minimum(((rank - 1) * bins // n).astype(int) + 1, bins)
    cal = (
        pd.DataFrame({"decile": decile, "p": p, "y": y})
        .groupby("decile")
        .agg(n=("y", "size"), mean_predicted=("p", "mean"), observed_rate=("y", "mean"))
        .reset_index()
    )
    return {
        "n": n,
        "churners": pos,
        "base_rate": base,
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "lift_top_decile": float(y[order[:top]].mean() / base),
        "calibration": cal,
    }


class ChurnModel(ClassifierMixin, BaseEstimator):
    """Calibrated gradient boosting for churn (scikit-learn contract).

    Parameters
    ----------
    learning_rate, max_iter, max_leaf_nodes, min_samples_leaf, l2_regularization
        Passed to :class:`~sklearn.ensemble.HistGradientBoostingClassifier`.
    calibration
        ``"isotonic"`` (default) or ``"sigmoid"`` (Platt), fitted by ``cv``-fold cross-validation
        (:class:`~sklearn.calibration.CalibratedClassifierCV`).
    cv
        Calibration folds.
    random_state
        Seed of the boosting and the folds.
    n_threads
        OpenMP threads for boosting (``None``: every core). The default 1 is deliberate: on a
        shared 2-core machine, all-core OpenMP made one fit 40x slower (26 s vs 0.6 s) than one thread.

    Attributes
    ----------
    feature_names_in_ : list of str
    categories_ : dict
        Categories of each text column seen in ``fit`` (unseen values become missing).
    typical_ : dict
        The reference value per feature used by :meth:`explain`.
    calibrated_ : CalibratedClassifierCV

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"recency_days": rng.exponential(60, 2000), "plan": rng.choice(["a", "b"], 2000)})
    >>> y = (rng.random(2000) < 1 / (1 + np.exp(3 - X.recency_days / 40))).astype(int)
    >>> m = ChurnModel(max_iter=50).fit(X, y)
    >>> m.evaluate(X, y)["roc_auc"] > 0.7
    True
    """

    def __init__(
        self,
        *,
        learning_rate: float = 0.05,
        max_iter: int = 200,
        max_leaf_nodes: int = 15,
        min_samples_leaf: int = 40,
        l2_regularization: float = 1.0,
        calibration: str = "isotonic",
        cv: int = 3,
        random_state: int | None = 0,
        n_threads: int | None = 1,
    ) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.calibration = calibration
        self.cv = cv
        self.random_state = random_state
        self.n_threads = n_threads

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> ChurnModel:
        """Fit on features ``X`` (DataFrame; text columns are categories) and 0/1 labels ``y``."""
        if self.calibration not in CALIBRATIONS:
            raise ConfigError(
                f"calibration {self.calibration!r} is not known; expected one of {', '.join(CALIBRATIONS)}"
            )
        X = _frame(X)
        y = np.asarray(y).astype("int64").ravel()
        if len(y) != len(X):
            raise ConfigError(f"X has {len(X)} rows but y has {len(y)}; pass one label per customer")
        if set(np.unique(y)) != {0, 1}:
            raise ConfigError(f"labels must contain both 0 and 1; got {sorted(set(np.unique(y).tolist()))}")
        self.feature_names_in_ = [str(c) for c in X.columns]
        self.n_features_in_ = len(self.feature_names_in_)
        self.categories_ = {}
        for c in X.columns:
            if _categorical(X[c]):
                cats = sorted(X[c].dropna().astype(str).unique().tolist())
                if len(cats) > 250:
                    raise ConfigError(
                        f"column {c!r} has {len(cats)} distinct values; expected at most 250 for a category; "
                        "drop it or bucket it"
                    )
                self.categories_[str(c)] = cats
        Xp = self._prepare(X)
        self.typical_ = {}
        for c in self.feature_names_in_:
            col = Xp[c]
            if c in self.categories_:
                mode = col.mode(dropna=True)
                self.typical_[c] = mode.iloc[0] if len(mode) else np.nan
            else:
                self.typical_[c] = float(col.median()) if col.notna().any() else np.nan
        hgb = HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            categorical_features="from_dtype",
            early_stopping=False,
            random_state=self.random_state,
        )
        from sklearn.model_selection import StratifiedKFold

        folds = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
        with self._threads():
            self.calibrated_ = CalibratedClassifierCV(hgb, method=self.calibration, cv=folds).fit(Xp, y)
        self.classes_ = self.calibrated_.classes_
        return self

    def _threads(self) -> Any:
        if self.n_threads is None:
            return contextlib.nullcontext()
        return threadpool_limits(limits=self.n_threads, user_api="openmp")

    def _check(self) -> None:
        if not hasattr(self, "calibrated_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. Call 'fit' first.")

    def _prepare(self, X: Any) -> pd.DataFrame:
        X = _frame(X)
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ConfigError(
                f"features lack column {missing[0]!r} the model was fitted with; pass the same columns as in fit"
            )
        out = {}
        for c in self.feature_names_in_:
            if c in self.categories_:
                s = X[c].astype("string").astype(object).where(X[c].notna(), None)
                out[c] = pd.Categorical(s, categories=self.categories_[c])
            else:
                out[c] = pd.to_numeric(X[c], errors="coerce").astype("float64")
        return pd.DataFrame(out, index=X.index)

    # -- predicting ----------------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:
        """``(n, 2)`` array: probability of staying, probability of churning within the horizon."""
        self._check()
        with self._threads():
            return self.calibrated_.predict_proba(self._prepare(X))

    def predict(self, X: Any, threshold: float = 0.5) -> np.ndarray:
        """1 where the churn probability is at least ``threshold``."""
        return (self.predict_proba(X)[:, 1] >= threshold).astype("int64")

    def evaluate(self, X: Any, y: Any) -> dict[str, Any]:
        """:func:`evaluate_scores` of this model's churn probabilities on ``(X, y)``."""
        return evaluate_scores(y, self.predict_proba(X)[:, 1])

    def explain(self, X: Any, top: int = 3) -> pd.DataFrame:
        """Top reasons per customer: features whose value raises the risk most versus a typical value.

        Returns a long frame indexed like ``X`` with columns ``rank`` (1 = strongest), ``feature``,
        ``value``, ``typical`` and ``contribution`` (change in churn probability); only positive
        contributions are listed, so a customer may have fewer than ``top`` reasons.
        """
        self._check()
        Xp = self._prepare(X)
        contrib = np.zeros((len(Xp), self.n_features_in_))
        with self._threads():
            p = self.calibrated_.predict_proba(Xp)[:, 1]
            for j, c in enumerate(self.feature_names_in_):
                ref = Xp.copy()
                if c in self.categories_:
                    ref[c] = pd.Categorical([self.typical_[c]] * len(ref), categories=self.categories_[c])
                else:
                    ref[c] = self.typical_[c]
                contrib[:, j] = p - self.calibrated_.predict_proba(ref)[:, 1]
        order = np.argsort(-contrib, axis=1, kind="mergesort")[:, :top]
        rows = []
        names = self.feature_names_in_
        for i, idx in enumerate(Xp.index):
            for r, j in enumerate(order[i]):
                if contrib[i, j] <= 0:
                    break
                c = names[j]
                rows.append((idx, r + 1, c, Xp.iloc[i, j], self.typical_[c], float(contrib[i, j])))
        out = pd.DataFrame(rows, columns=["_idx", "rank", "feature", "value", "typical", "contribution"])
        out = out.set_index("_idx")
        out.index.name = Xp.index.name
        return out

    def importance(self, X: Any, y: Any, *, n_repeats: int = 5) -> pd.DataFrame:
        """Global permutation importance: mean drop in ROC-AUC when each feature is shuffled."""
        from sklearn.inspection import permutation_importance

        self._check()
        r = permutation_importance(
            self.calibrated_,
            self._prepare(X),
            np.asarray(y),
            scoring="roc_auc",
            n_repeats=n_repeats,
            random_state=self.random_state,
        )
        return (
            pd.DataFrame({"feature": self.feature_names_in_, "importance": r.importances_mean, "sd": r.importances_std})
            .sort_values("importance", ascending=False, kind="mergesort")
            .reset_index(drop=True)
        )


def logistic_baseline(X: pd.DataFrame) -> Pipeline:
    """A plain logistic regression for comparison: median-imputed, standardised numbers and one-hot text."""
    num = [c for c in X.columns if not _categorical(X[c])]
    cat = [c for c in X.columns if _categorical(X[c])]
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler()), num),
            (
                "cat",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value="(missing)"), OneHotEncoder(handle_unknown="ignore")
                ),
                cat,
            ),
        ]
    )
    return make_pipeline(pre, LogisticRegression(max_iter=2000))


def _as_text(X: pd.DataFrame) -> pd.DataFrame:
    X = X.copy()
    for c in X.columns:
        if _categorical(X[c]):
            X[c] = X[c].astype(object).where(X[c].notna(), "(missing)").astype(str)
    return X


# -- workspace training ------------------------------------------------------------------------
def churn_labels(ws, customer_ids: Any, as_of: DateLike, horizon_days: int, *, label: str = "auto") -> pd.Series:
    """1 for customers who churn in ``(as_of, as_of + horizon]``, indexed by ``customer_id``.

    ``label="churned_at"``: ``customers.churned_at`` falls in the window. ``"inactivity"``: no order
    and no event in ``[as_of, as_of + horizon)``. ``"auto"``: ``churned_at`` when any customer has one,
    else inactivity.
    """
    if label not in LABELS:
        raise ConfigError(f"label {label!r} is not known; expected one of {', '.join(LABELS)}")
    cu = ws.table("customers")
    if label == "auto":
        label = "churned_at" if int(ws.read(cu.churned_at.count())) > 0 else "inactivity"
    t0 = ts_literal(as_of)
    t1 = ts_literal(pd.Timestamp(as_of) + pd.Timedelta(days=horizon_days))
    if label == "churned_at":
        hit = cu.filter(cu.churned_at > t0, cu.churned_at <= t1).select("customer_id")
    else:
        parts = []
        for name in ("orders", "events"):
            t = ws.table(name)
            parts.append(t.filter(t.customer_id.notnull(), t.ts >= t0, t.ts < t1).select("customer_id"))
        active = set(ws.read(ibis.union(*parts, distinct=True))["customer_id"])
        ids = pd.Index(customer_ids)
        return pd.Series((~ids.isin(list(active))).astype("int64"), index=ids, name="churned")
    churned = set(ws.read(hit)["customer_id"])
    ids = pd.Index(customer_ids)
    return pd.Series(ids.isin(list(churned)).astype("int64"), index=ids, name="churned")


@dataclass
class ChurnTraining:
    """What :func:`train_churn` did: the model, holdout metrics and the cutoffs used."""

    model: ChurnModel
    metrics: dict[str, Any]
    baseline: dict[str, Any]
    train_as_of: pd.Timestamp
    test_as_of: pd.Timestamp
    horizon_days: int
    label: str
    n_train: int
    n_test: int
    refit: bool
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """JSON-ready figures (no calibration table)."""
        keys = ("n", "churners", "base_rate", "roc_auc", "pr_auc", "brier", "lift_top_decile")
        return {
            "train_as_of": self.train_as_of.isoformat(),
            "test_as_of": self.test_as_of.isoformat(),
            "horizon_days": self.horizon_days,
            "label": self.label,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "behaviour_features": bool(getattr(self.model, "feature_spec_", {}).get("behaviour", False)),
            "model": {k: self.metrics[k] for k in keys},
            "logistic_baseline": {k: self.baseline[k] for k in keys},
        }


def _design(X: pd.DataFrame) -> pd.DataFrame:
    return X.drop(columns=[c for c in X.columns if X[c].isna().all()])


def train_churn(
    ws,
    as_of: DateLike = None,
    *,
    horizon_days: int = 90,
    lookback_days: int = 365,
    label: str = "auto",
    model: ChurnModel | None = None,
    refit: bool = True,
    behaviour: bool | None = None,
) -> ChurnTraining:
    """Train and evaluate a churn model on a workspace with a time-based holdout.

    With ``h = horizon_days`` and ``as_of`` defaulting to (midnight after the last activity) − h:

    - train: features at ``as_of − h``, labels = churn in ``(as_of − h, as_of]``;
    - test: features at ``as_of``, labels = churn in ``(as_of, as_of + h]``.

    With ``refit=True`` the returned model is then refitted on the test period (the most recent
    complete labels), ready for :func:`score_churn` at the end of the data; the metrics are always
    those of the holdout model. ``label`` is as in :func:`churn_labels`. ``behaviour``: add the
    behaviour features (:data:`~cxlens.customers.features.BEHAVIOUR_FEATURES`, only events before
    each cutoff); ``None``: when the workspace has behaviour events before the training cutoff.
    """
    first, last = data_range(ws)
    end = last.normalize() + pd.Timedelta(days=1)
    h = pd.Timedelta(days=horizon_days)
    test_as_of = pd.Timestamp(as_of) if as_of is not None else end - h
    train_as_of = test_as_of - h
    if test_as_of + h > end:
        raise ConfigError(
            f"as_of {test_as_of.date()} leaves {(end - test_as_of).days} days of data for a {horizon_days}-day "
            f"horizon; pass as_of on or before {(end - h).date()}"
        )
    if train_as_of <= first.normalize() + pd.Timedelta(days=30):
        raise ConfigError(
            f"the training cutoff {train_as_of.date()} is within 30 days of the first activity ({first.date()}); "
            f"pass a later as_of or a shorter horizon_days than {horizon_days}"
        )
    cu = ws.table("customers")
    resolved = label
    if label == "auto":
        resolved = "churned_at" if int(ws.read(cu.churned_at.count())) > 0 else "inactivity"

    if behaviour is None:
        behaviour = has_behaviour(ws, train_as_of)
    X_tr = customer_features(ws, train_as_of, lookback_days=lookback_days, behaviour=behaviour)
    y_tr = churn_labels(ws, X_tr.index, train_as_of, horizon_days, label=resolved)
    X_te = customer_features(ws, test_as_of, lookback_days=lookback_days, behaviour=behaviour)
    y_te = churn_labels(ws, X_te.index, test_as_of, horizon_days, label=resolved)
    X_tr = _design(X_tr)
    X_te = X_te[X_tr.columns]

    m = model if model is not None else ChurnModel()
    from sklearn.base import clone

    holdout = clone(m).fit(X_tr, y_tr)
    metrics = holdout.evaluate(X_te, y_te)
    base = logistic_baseline(X_tr).fit(_as_text(X_tr), y_tr)
    baseline = evaluate_scores(y_te, base.predict_proba(_as_text(X_te))[:, 1])
    final = clone(m).fit(X_te, y_te) if refit else holdout
    final.feature_spec_ = {"lookback_days": lookback_days, "horizon_days": horizon_days, "behaviour": behaviour}
    return ChurnTraining(
        model=final,
        metrics=metrics,
        baseline=baseline,
        train_as_of=train_as_of,
        test_as_of=test_as_of,
        horizon_days=horizon_days,
        label=resolved,
        n_train=len(X_tr),
        n_test=len(X_te),
        refit=refit,
    )


def format_reason_value(v: Any) -> str:
    if isinstance(v, float):
        return "missing" if np.isnan(v) else f"{v:.3g}"
    return str(v)


def score_churn(
    ws, model: ChurnModel, as_of: DateLike = None, *, top: int = 3, structured: bool = False
) -> pd.DataFrame:
    """Churn risk and top reasons for every customer known at ``as_of`` (default: end of the data).

    Returns ``customer_id, churn_risk, reasons`` (``"recency_days 143 (typical 21) +0.18; …"``),
    sorted by risk, highest first; with ``structured``, also ``reason_list``: the same reasons as
    ``[{"feature", "value", "typical", "contribution"}, …]``.
    """
    spec = getattr(model, "feature_spec_", {})
    if as_of is None:
        _, last = data_range(ws)
        as_of = last.normalize() + pd.Timedelta(days=1)
    X = customer_features(
        ws, as_of, lookback_days=spec.get("lookback_days", 365), behaviour=bool(spec.get("behaviour", False))
    )
    risk = model.predict_proba(X)[:, 1]
    ex = model.explain(X, top=top)
    text = (
        ex.assign(
            _t=[
                f"{f} {format_reason_value(v)} (typical {format_reason_value(t)}) {c:+.2f}"
                for f, v, t, c in zip(ex["feature"], ex["value"], ex["typical"], ex["contribution"], strict=True)
            ]
        )
        .groupby(level=0, sort=False)["_t"]
        .agg("; ".join)
    )
    out = pd.DataFrame({"customer_id": X.index, "churn_risk": risk})
    out["reasons"] = out["customer_id"].map(text).fillna("")
    if structured:
        items = (
            ex.assign(
                _r=[
                    {"feature": f, "value": _jsonable(v), "typical": _jsonable(t), "contribution": float(c)}
                    for f, v, t, c in zip(ex["feature"], ex["value"], ex["typical"], ex["contribution"], strict=True)
                ]
            )
            .groupby(level=0, sort=False)["_r"]
            .agg(list)
        )
        out["reason_list"] = [items.get(c, []) for c in out["customer_id"]]
    return out.sort_values(["churn_risk", "customer_id"], ascending=[False, True], kind="mergesort").reset_index(
        drop=True
    )


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def save_model(model: ChurnModel, path: str | Path) -> None:
    """Write a fitted model with joblib."""
    import joblib

    model._check()
    joblib.dump(model, path)


def load_model(path: str | Path) -> ChurnModel:
    """Read a model written by :func:`save_model` (only load files you trust: joblib runs pickle)."""
    import joblib

    return joblib.load(path)
