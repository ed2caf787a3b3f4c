"""The check cases of notebook 01: inputs, expected outputs, and the outputs of typical mistakes.

Maintainers only (not shipped to students): ``python tools/make_stored.py 01 --cases`` calls ``build`` with
the solution notebook's own functions and writes
``course_utils/stored_values/01_jensen_elbo.cases.json``, so the checks and the solutions cannot
disagree. ``--check`` rebuilds them and compares with what is stored.
"""

import math

import torch


def build(sol: dict) -> dict:
    """Every exercise's cases: ``{exercise: {"cases": [...]}}``, from the solution's functions ``sol``."""
    log_marginal, elbo, posterior = sol["log_marginal"], sol["elbo"], sol["posterior"]

    g = torch.Generator().manual_seed(2024)
    D = torch.float64
    random_lj = torch.randn(5, 3, generator=g, dtype=D) * 2 - 3             # an ordinary [N, K]
    extreme_lj = torch.tensor([[-1000.0, -1001.0, -1002.0], [800.0, 799.0, 0.0], [-1e-3, -5.0, -745.5]], dtype=D)
    wide_lj = torch.randn(4, 6, generator=g, dtype=D) - 2                   # K != 3, N != K
    expo = torch.empty(5, 3, dtype=D).exponential_(generator=g)
    random_q = expo / expo.sum(1, keepdim=True)
    sparse_q = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.3, 0.7], [0.5, 0.5, 0.0]], dtype=D)
    expo6 = torch.empty(4, 6, dtype=D).exponential_(generator=g)
    wide_q = expo6 / expo6.sum(1, keepdim=True)

    def naive_entropy_term(q):
        return -(q * torch.log(q)).sum(1)

    def lm_mistakes(lj):
        k = lj.shape[1]
        return [
            {"value": torch.logsumexp(lj, 1) - math.log(k),
             "hint": "averaging over z (a mean) instead of summing: log p(x) = log SUM_k p(z=k, x)."},
            {"value": lj.max(1).values, "hint": "that is the max over z only; log-sum-exp also counts the other terms."},
            {"value": lj.sum(1), "hint": "that is sum_k log p(z=k, x); the log goes OUTSIDE the sum: log sum_k exp(...)."},
            {"value": torch.logsumexp(lj, 1).exp(), "hint": "that is p(x), not log p(x): drop the final exp."},
        ]

    def elbo_mistakes(lj, q):
        h = -torch.xlogy(q, q).sum(1)
        cross = (q * lj).sum(1)
        return [
            {"value": cross, "hint": "the entropy H(q) is missing: ELBO = sum_k q log p(z,x) + H(q)."},
            {"value": cross - h, "hint": "the entropy has the wrong sign: H(q) = -sum_k q log q, and it is ADDED."},
            {"value": (q * lj).mean(1) + h, "hint": "a mean over z instead of the sum weighted by q."},
            {"value": (lj.exp() * lj).sum(1) + h, "hint": "weighting by p(z,x) instead of by q."},
        ]

    def post_mistakes(lj):
        return [
            {"value": torch.softmax(lj, 0), "hint": "normalised over the data points (dim 0); normalise over z (dim=1)."},
            {"value": lj.exp(), "hint": "that is the joint p(z,x); divide by p(x) (normalise each row)."},
            {"value": torch.log_softmax(lj, 1), "hint": "that is log p(z|x); return probabilities (exponentiate)."},
        ]

    def case(label, args, expected, mistakes, atol=1e-6, **extra):
        return {"label": label, "args": args, "expected": expected, "mistakes": mistakes, "atol": atol, **extra}

    table = {
        "log_marginal": {"cases": [
            case("a random [5, 3] log_joint", {"log_joint": random_lj}, log_marginal(random_lj), lm_mistakes(random_lj)),
            case("a [4, 6] log_joint (K = 6)", {"log_joint": wide_lj}, log_marginal(wide_lj), lm_mistakes(wide_lj)),
            case("log-probabilities near -1000 and +800", {"log_joint": extreme_lj}, log_marginal(extreme_lj),
                 lm_mistakes(extreme_lj)),
        ]},
        "elbo": {"cases": [
            case("a random log_joint with a random q", {"log_joint": random_lj, "q": random_q}, elbo(random_lj, random_q),
                 elbo_mistakes(random_lj, random_q), log_px=log_marginal(random_lj)),
            case("a [4, 6] log_joint with a random q", {"log_joint": wide_lj, "q": wide_q}, elbo(wide_lj, wide_q),
                 elbo_mistakes(wide_lj, wide_q), log_px=log_marginal(wide_lj)),
            case("a q with zeros in it (0 log 0 = 0)", {"log_joint": random_lj[:3], "q": sparse_q},
                 elbo(random_lj[:3], sparse_q), elbo_mistakes(random_lj[:3], sparse_q), log_px=log_marginal(random_lj[:3])),
        ]},
        "posterior": {"cases": [
            case("a random [5, 3] log_joint", {"log_joint": random_lj}, posterior(random_lj), post_mistakes(random_lj)),
            case("a [4, 6] log_joint (K = 6)", {"log_joint": wide_lj}, posterior(wide_lj), post_mistakes(wide_lj)),
            case("log-probabilities near -1000 and +800", {"log_joint": extreme_lj}, posterior(extreme_lj),
                 post_mistakes(extreme_lj)),
        ]},
    }
    assert torch.isfinite(naive_entropy_term(sparse_q)).logical_not().any(), "the zero-q case must trip a naive q*log(q)"
    return table
