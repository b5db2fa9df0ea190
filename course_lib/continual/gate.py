"""The promotion gate: promote a candidate only when no guarded metric is worse than production's (notebook 07)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class GateRule:
    """One guarded metric: the candidate may be worse than production by at most ``tolerance`` (same units)."""

    metric: str
    higher_is_better: bool = False
    tolerance: float = 0.0


@dataclass
class GateDecision:
    """The gate's verdict: ``promote`` and one human-readable reason per rule."""

    promote: bool
    reasons: list[str]

    def __str__(self) -> str:
        verdict = "PROMOTE the candidate" if self.promote else "KEEP the production model"
        return verdict + "\n" + "\n".join(f"  - {r}" for r in self.reasons)


@dataclass(frozen=True)
class PromotionGate:
    """Promote a candidate only if no guarded metric regressed beyond its tolerance and the ``primary`` improved.

    Default rules, for losses on two fixed test sets (lower is better):
        ``old_loss``: the production model's old test set — guards against forgetting (tolerance 0.05 nats).
        ``new_loss``: the new data's test set — retraining must help here (primary: must strictly improve).
    """

    rules: tuple[GateRule, ...] = (GateRule("old_loss", tolerance=0.05), GateRule("new_loss", tolerance=0.0))
    primary: str = "new_loss"

    def decide(self, candidate: dict, production: dict | None) -> GateDecision:
        """Compare metric dicts; with no production model yet, the candidate is promoted."""
        if production is None:
            return GateDecision(True, ["no model in production yet: the first run is promoted"])
        reasons, ok = [], True
        for rule in self.rules:
            for name, metrics in (("candidate", candidate), ("production", production)):
                if rule.metric not in metrics:
                    raise ConfigError(f"the gate needs metric {rule.metric!r} but the {name} has only "
                                      f"{sorted(metrics)} — evaluate both models on the same test sets")
            new, old = float(candidate[rule.metric]), float(production[rule.metric])
            worse_by = (old - new) if rule.higher_is_better else (new - old)
            passed = worse_by <= rule.tolerance
            if rule.metric == self.primary and worse_by >= 0:
                passed = False  # the primary metric must strictly improve, or retraining bought nothing
            ok &= passed
            trend = "better" if worse_by < 0 else ("equal" if worse_by == 0 else "worse")
            reasons.append(f"{rule.metric}: {old:.4f} -> {new:.4f} ({trend} by {abs(worse_by):.4f}; "
                           f"{'primary, must improve' if rule.metric == self.primary else f'tolerance {rule.tolerance:g}'})"
                           f" {'ok' if passed else 'FAIL'}")
        return GateDecision(ok, reasons)
