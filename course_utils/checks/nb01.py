"""Checks for notebook 01 (Jensen's inequality and the ELBO).

Each check runs the student's function on stored inputs and compares with stored outputs
(``data/01_jensen_elbo.json``), naming the mistake when the output matches a known wrong answer.
"""

from __future__ import annotations

from . import Mistake, call_unchanged, expect_close, expect_tensor, missing, passed, run_check, stored_cases

NOTEBOOK = "01_jensen_elbo"

_LOGSUMEXP_HINT = (
    "Exponentiating large or very negative log-probabilities overflows or underflows: "
    "use the log-sum-exp trick (torch.logsumexp)."
)


def _run_cases(exercise: str, fn, out_shape, shape_hints, nonfinite_hint, extra=None) -> str:
    worst = 0.0
    cases = stored_cases(NOTEBOOK, exercise)
    for case in cases:
        args = case["args"]
        out = call_unchanged(fn, **args)
        out = expect_tensor(out, args["log_joint"], out_shape(args), shape_hints(args))
        worst = max(worst, expect_close(out, case, nonfinite_hint))
        if extra is not None:
            extra(out, case)
    return f"{len(cases)} cases passed (largest error {worst:.2g}, tolerance {cases[0].get('atol', 1e-6):g})"


def _shape_hints(args):
    n, k = args["log_joint"].shape
    return {
        (k,): "You reduced over dim 0, the data points; sum over the K values of z instead (dim=1).",
        (n, 1): "Drop the kept dimension (keepdim=False): one number per data point.",
        (): "Return one value per data point, not a single number for the batch.",
    }


def check_log_marginal(log_marginal, verbose: bool = True) -> bool:
    """``log_marginal(log_joint)``: ``[N, K]`` -> ``[N]``, log p(x_n) = log sum_k p(z=k, x_n)."""

    def test(fn):
        return _run_cases("log_marginal", fn, lambda a: (a["log_joint"].shape[0],), _shape_hints, _LOGSUMEXP_HINT)

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
        return _run_cases(
            "elbo", fn, lambda a: (a["log_joint"].shape[0],), _shape_hints,
            "Where q is exactly 0, q*log(q) must count as 0 (0 log 0 = 0): use torch.xlogy(q, q) "
            "or torch.special.entr(q), not q * torch.log(q).",
            bound,
        )

    return run_check("elbo", elbo, test, verbose)


def check_posterior(posterior, verbose: bool = True) -> bool:
    """``posterior(log_joint)``: ``[N, K]`` -> ``[N, K]``, p(z=k | x_n); each row sums to 1."""

    def rows_sum_to_one(out, case):
        s = out.sum(1)
        if (s - 1).abs().max() > 1e-6:
            raise Mistake(f"rows must sum to 1 (a distribution over z for each x); they sum to {s[:3].tolist()}.")

    def hints(args):
        return {tuple(reversed(args["log_joint"].shape)): "Keep the input's shape [N, K]."}

    def test(fn):
        return _run_cases(
            "posterior", fn, lambda a: tuple(a["log_joint"].shape), hints,
            "Normalise in log space first: p(z|x) = exp(log p(z,x) - log p(x)), or torch.softmax(..., dim=1).",
            rows_sum_to_one,
        )

    return run_check("posterior", posterior, test, verbose)


__all__ = ["check_log_marginal", "check_elbo", "check_posterior", "passed", "missing"]
