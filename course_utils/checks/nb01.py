"""Checks for notebook 01 (Jensen's inequality and the ELBO).

Each check runs the student's function on stored inputs and compares with stored outputs
(``course_utils/stored_values/01_jensen_elbo.cases.json``), naming the mistake when the output matches a known
wrong answer.
"""

from __future__ import annotations

from . import Mistake, missing, passed, run_cases, run_check

NOTEBOOK = "01_jensen_elbo"

_LOGSUMEXP_HINT = (
    "Exponentiating large or very negative log-probabilities overflows or underflows: "
    "use the log-sum-exp trick (torch.logsumexp)."
)


def _per_point(case):
    return (case["args"]["log_joint"].shape[0],)


def _shape_hints(case):
    n, k = case["args"]["log_joint"].shape
    return {
        (k,): "You reduced over dim 0, the data points; sum over the K values of z instead (dim=1).",
        (n, 1): "Drop the kept dimension (keepdim=False): one number per data point.",
        (): "Return one value per data point, not a single number for the batch.",
    }


def check_log_marginal(log_marginal, verbose: bool = True) -> bool:
    """``log_marginal(log_joint)``: ``[N, K]`` -> ``[N]``, log p(x_n) = log sum_k p(z=k, x_n)."""

    def test(fn):
        return run_cases(NOTEBOOK, "log_marginal", fn, _per_point, hints=_shape_hints, nonfinite_hint=_LOGSUMEXP_HINT)

    return run_check("log_marginal", log_marginal, test, verbose)


def check_elbo(elbo, verbose: bool = True) -> bool:
    """``elbo(log_joint, q)``: ``[N, K]`` twice -> ``[N]``, sum_k q log p(z, x) + H(q)."""

    def bound(out, case):
        # Jensen: the ELBO never exceeds log p(x) (stored with the case).
        if (out > case["log_px"] + 1e-9).any():
            raise Mistake(
                "the ELBO exceeds log p(x) somewhere, which Jensen's inequality rules out. Check the sign of H(q)."
            )

    def test(fn):
        return run_cases(
            NOTEBOOK, "elbo", fn, _per_point, hints=_shape_hints, extra=bound, nonfinite_hint=
            "Where q is exactly 0, q*log(q) must count as 0 (0 log 0 = 0): use torch.xlogy(q, q) "
            "or torch.special.entr(q), not q * torch.log(q).",
        )

    return run_check("elbo", elbo, test, verbose)


def check_posterior(posterior, verbose: bool = True) -> bool:
    """``posterior(log_joint)``: ``[N, K]`` -> ``[N, K]``, p(z=k | x_n); each row sums to 1."""

    def rows_sum_to_one(out, case):
        s = out.sum(1)
        if (s - 1).abs().max() > 1e-6:
            raise Mistake(f"rows must sum to 1 (a distribution over z for each x); they sum to {s[:3].tolist()}.")

    def hints(case):
        return {tuple(reversed(case["args"]["log_joint"].shape)): "Keep the input's shape [N, K]."}

    def test(fn):
        return run_cases(
            NOTEBOOK, "posterior", fn, lambda c: tuple(c["args"]["log_joint"].shape), hints=hints,
            extra=rows_sum_to_one,
            nonfinite_hint="Normalise in log space first: p(z|x) = exp(log p(z,x) - log p(x)), or torch.softmax(..., "
            "dim=1).",
        )

    return run_check("posterior", posterior, test, verbose)


__all__ = ["check_log_marginal", "check_elbo", "check_posterior", "passed", "missing"]
