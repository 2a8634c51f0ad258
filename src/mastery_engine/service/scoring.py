"""How well predictions of correct answers (or of recall) did: AUC, log-loss, calibration."""


def metrics(p: list[float], y: list[float]) -> dict[str, float]:
    """AUC (answers scored 0.5 or more count as correct) and mean log-loss."""
    import numpy as np
    from scipy.stats import rankdata

    probs, scores = np.asarray(p), np.asarray(y)
    correct = scores >= 0.5
    wins, fails = int(correct.sum()), int((~correct).sum())
    ranks = rankdata(probs)
    auc = (ranks[correct].sum() - wins * (wins + 1) / 2) / (wins * fails) if wins and fails else 0.5
    clipped = np.clip(probs, 1e-6, 1 - 1e-6)
    loss = -np.mean(scores * np.log(clipped) + (1 - scores) * np.log(1 - clipped))
    return {"auc": round(float(auc), 6), "log_loss": round(float(loss), 6)}


def calibration(p: list[float], y: list[float], bins: int = 10) -> float:
    """Expected calibration error: the answer-weighted mean gap between the mean prediction
    and the mean score in each of `bins` equal-width bins of P(correct)."""
    gap = sum(n * abs(mean_p - mean_y) for _, n, mean_p, mean_y in reliability(p, y, bins))
    return round(gap / len(p), 6)


def reliability(
    p: list[float], y: list[float], bins: int = 10
) -> list[tuple[int, int, float, float]]:
    """Per non-empty equal-width bin of P(correct): (bin, answers, mean prediction, mean score)."""
    import numpy as np

    probs, scores = np.asarray(p), np.asarray(y)
    which = np.minimum((probs * bins).astype(int), bins - 1)
    found = []
    for b in range(bins):
        inside = which == b
        if inside.any():
            mean_p, mean_y = float(probs[inside].mean()), float(scores[inside].mean())
            found.append((b, int(inside.sum()), mean_p, mean_y))
    return found
