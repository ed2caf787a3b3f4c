"""The check cases of notebook 03: inputs, expected outputs, and the outputs of typical mistakes.

Maintainers only (not shipped to students): ``python tools/make_stored.py 03 --cases`` calls ``build`` with
the solution notebook's own functions and writes
``course_utils/stored_values/03_vae.cases.json``, so the checks and the solutions cannot
disagree. ``--check`` rebuilds them and compares with what is stored.
"""

import math

import torch
import torch.nn.functional as F

from course_utils.checks.nb03 import TinyLatentModel


def build(sol: dict) -> dict:
    """Every exercise's cases: ``{exercise: {"cases": [...]}}``, from the solution's functions ``sol``."""
    kl_fn, nelbo_fn, gnll_fn = sol["kl_standard_normal"], sol["negative_elbo"], sol["gaussian_nll"]
    kld_fn = sol["kl_diagonal_gaussians"]
    is_fn = sol["importance_sampled_log_likelihood"]

    g = torch.Generator().manual_seed(2026)
    D = torch.float64
    LOG2PI = math.log(2 * math.pi)

    def case(label, args, expected, mistakes, atol=1e-9, **extra):
        return {"label": label, "args": args, "expected": expected, "mistakes": mistakes, "atol": atol, **extra}

    # ----------------------------------------------------------------------------- KL
    def kl_mistakes(mu, logvar):
        terms = mu**2 + logvar.exp() - 1 - logvar
        return [
            {"value": -0.5 * terms.sum(1), "hint": "the sign is flipped: KL = +1/2 sum(mu^2 + sigma^2 - 1 - log sigma^2)."},
            {"value": 0.5 * terms.mean(1), "hint": "averaged over the latent dimensions; SUM over them (the KL of "
                                                   "independent coordinates adds up)."},
            {"value": terms.sum(1), "hint": "the factor 1/2 is missing."},
            {"value": 0.5 * (mu**2 + logvar.exp() + 1 - logvar).sum(1), "hint": "+1 where the formula has -1."},
            {"value": 0.5 * (mu**2 + logvar.exp() - 1 + logvar).sum(1), "hint": "+log sigma^2 where the formula has "
                                                                                   "-log sigma^2."},
            {"value": 0.5 * (mu**2 + logvar**2 - 1 - torch.log(logvar**2)).sum(1),
             "hint": "logvar used as the standard deviation; it is log sigma^2, so sigma^2 = exp(logvar)."},
        ]

    kl_inputs = [
        ("a random [4, 3] mu and logvar", torch.randn(4, 3, generator=g, dtype=D), torch.randn(4, 3, generator=g, dtype=D)),
        ("a [6, 5] batch with wide and narrow q", 2 * torch.randn(6, 5, generator=g, dtype=D),
         3 * torch.randn(6, 5, generator=g, dtype=D)),
        ("q equal to the prior in some rows", torch.tensor([[0.0, 0.0], [1.0, -1.0]], dtype=D),
         torch.tensor([[0.0, 0.0], [0.5, -0.5]], dtype=D)),
    ]
    kl_cases = [case(lbl, {"mu": m, "logvar": lv}, kl_fn(m, lv), kl_mistakes(m, lv)) for lbl, m, lv in kl_inputs]

    # ----------------------------------------------------------------------------- KL of two diagonal Gaussians
    g2 = torch.Generator().manual_seed(2027)  # its own generator: the other exercises' cases stay as they were

    def kld_mistakes(mu_q, logvar_q, mu_p, logvar_p, expected):
        var_q, var_p, sq = logvar_q.exp(), logvar_p.exp(), (mu_q - mu_p) ** 2
        log_ratio = logvar_p - logvar_q
        s = lambda t: t.sum(-1)  # noqa: E731
        every = [
            (0.5 * s(logvar_q - logvar_p + (var_p + sq) / var_q - 1),
             "q and p are swapped: that is KL(p || q). The KL is not symmetric; the expectation is over q, the "
             "first pair (mu_q, logvar_q), so sigma_p^2 is the denominator."),
            (-0.5 * s(log_ratio + (var_q + sq) / var_p - 1),
             "the sign is flipped: KL(q || p) = E_q[log q(z) - log p(z)], log q first; a KL is never negative."),
            (0.5 * (log_ratio + (var_q + sq) / var_p - 1).mean(-1),
             "averaged over the latent dimensions; SUM over them (the KL of independent coordinates adds up)."),
            (s(log_ratio + (var_q + sq) / var_p - 1), "the factor 1/2 is missing."),
            (0.5 * s(log_ratio + (var_q + sq) / var_p),
             "the -1 is missing: it comes from E_q[(z - mu_q)^2] / sigma_q^2 = 1, and makes KL(q || q) = 0."),
            (0.5 * s(-log_ratio + (var_q + sq) / var_p - 1),
             "the log term is flipped: it is log(sigma_p^2 / sigma_q^2) = logvar_p - logvar_q."),
            (0.5 * s(log_ratio + var_q / var_p + sq - 1),
             "(mu_q - mu_p)^2 is not divided by sigma_p^2: the fraction is (sigma_q^2 + (mu_q - mu_p)^2) / "
             "sigma_p^2."),
            (0.5 * s(log_ratio + var_q / var_p + sq / var_q - 1),
             "(mu_q - mu_p)^2 is divided by sigma_q^2; its denominator is sigma_p^2, the variance of p."),
            (0.5 * s(torch.log(logvar_p**2 / logvar_q**2) + (logvar_q**2 + sq) / logvar_p**2 - 1),
             "logvar used as the standard deviation; it is log sigma^2, so sigma^2 = exp(logvar)."),
        ]
        # a mistake that gives the right answer on this case (or no finite answer) says nothing here
        return [{"value": v, "hint": h} for v, h in every
                if torch.isfinite(v).all() and (v - expected).abs().max() > 1e-6]

    def rnd(*shape, scale=1.0):
        return scale * torch.randn(*shape, generator=g2, dtype=D)

    kld_inputs = [
        ("a random [4, 3] q and p", rnd(4, 3), rnd(4, 3), rnd(4, 3), rnd(4, 3)),
        ("a [5, 6] batch with wide and narrow q and p", rnd(5, 6, scale=2), rnd(5, 6, scale=2.5), rnd(5, 6, scale=2),
         rnd(5, 6, scale=2.5)),
        ("one p for the whole batch (mu_p, logvar_p of shape [1, 4])", rnd(3, 4), rnd(3, 4), rnd(1, 4),
         rnd(1, 4)),
        ("p = N(0, I), where it must equal kl_standard_normal", rnd(3, 5), rnd(3, 5), torch.zeros(3, 5, dtype=D),
         torch.zeros(3, 5, dtype=D)),
    ]
    same = rnd(2, 3), rnd(2, 3)
    kld_inputs.append(("q equal to p in the first row", same[0], same[1], torch.cat([same[0][:1], rnd(1, 3)]),
                       torch.cat([same[1][:1], rnd(1, 3)])))
    kld_cases = []
    for lbl, mq, lq, mp, lp in kld_inputs:
        want = kld_fn(mq, lq, mp, lp)
        kld_cases.append(case(lbl, {"mu_q": mq, "logvar_q": lq, "mu_p": mp, "logvar_p": lp}, want,
                              kld_mistakes(mq, lq, mp, lp, want)))
    assert torch.allclose(kld_cases[3]["expected"], kl_fn(kld_inputs[3][1], kld_inputs[3][2]), atol=1e-12)
    assert abs(kld_cases[4]["expected"][0].item()) < 1e-12
    hints_seen = {m["hint"] for c in kld_cases for m in c["mistakes"]}
    assert len(hints_seen) == 9, "every typical mistake is recognisable in some case"

    # ----------------------------------------------------------------------------- negative ELBO

    def nelbo_mistakes(x, x_logits, mu, logvar):
        bce = F.binary_cross_entropy_with_logits(x_logits, x, reduction="none").flatten(1)
        kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar)
        rec, kls = bce.sum(1), kl.sum(1)
        return [
            {"value": bce.mean() + kls.mean(), "hint": "the reconstruction term is averaged over pixels (like "
             "F.binary_cross_entropy_with_logits' default): SUM -log p(x|z) over the pixels of each image."},
            {"value": (rec - kls).mean(), "hint": "the KL term has the wrong sign: -ELBO = -E[log p(x|z)] + KL."},
            {"value": rec.mean(), "hint": "the KL term is missing: -ELBO = reconstruction + KL(q(z|x) || p(z))."},
            {"value": (rec + kls).sum(), "hint": "summed over the batch; return the batch MEAN."},
            {"value": (rec + kl.mean(1)).mean(), "hint": "the KL is averaged over the latent dimensions; sum over them."},
            {"value": -(rec + kls).mean(), "hint": "that is the ELBO; return its negative (a loss to minimise)."},
            {"value": (F.mse_loss(torch.sigmoid(x_logits), x, reduction="none").flatten(1).sum(1) + kls).mean(),
             "hint": "a squared error is a Gaussian decoder's loss; the Bernoulli decoder's is the binary cross-entropy."},
        ]

    ne_inputs = []
    for lbl, shape, binary in [("4 binary images of 12 pixels", (4, 12), True),
                               ("3 grey-level 5x5 images", (3, 1, 5, 5), False),
                               ("6 binary 4x4 images, large logits", (6, 1, 4, 4), True)]:
        x = torch.rand(*shape, generator=g, dtype=D)
        if binary:
            x = (x > 0.5).to(D)
        scale = 8.0 if "large" in lbl else 2.0
        logits = scale * torch.randn(*shape, generator=g, dtype=D)
        n = shape[0]
        mu, logvar = torch.randn(n, 3, generator=g, dtype=D), torch.randn(n, 3, generator=g, dtype=D)
        ne_inputs.append((lbl, x, logits, mu, logvar))
    ne_cases = [case(lbl, {"x": x, "x_logits": lg, "mu": m, "logvar": lv}, nelbo_fn(x, lg, m, lv),
                     nelbo_mistakes(x, lg, m, lv), atol=1e-6) for lbl, x, lg, m, lv in ne_inputs]

    # ----------------------------------------------------------------------------- Gaussian NLL

    def gnll_mistakes(x, x_mu, x_logvar):
        sq = (x - x_mu) ** 2
        flat = lambda t: t.flatten(1).sum(1)  # noqa: E731
        return [
            {"value": flat(0.5 * (x_logvar + sq / x_logvar.exp())), "hint": "the constant 0.5 * log(2 pi) per pixel is "
             "missing: a density must integrate to 1."},
            {"value": flat(0.5 * (LOG2PI + sq / x_logvar.exp())), "hint": "the log-variance term 0.5 * log sigma^2 is "
             "missing: without it a wider Gaussian would look more likely everywhere."},
            {"value": flat(0.5 * (LOG2PI + x_logvar + sq / (0.5 * x_logvar).exp())), "hint": "divided by sigma instead "
             "of sigma^2 = exp(x_logvar)."},
            {"value": flat(LOG2PI + x_logvar + sq / x_logvar.exp()), "hint": "the factor 1/2 is missing."},
            {"value": (0.5 * (LOG2PI + x_logvar + sq / x_logvar.exp())).flatten(1).mean(1),
             "hint": "averaged over the pixels; SUM over them (the pixels are independent given z)."},
            {"value": flat(0.5 * (LOG2PI + x_logvar + sq * x_logvar.exp())), "hint": "multiplied by sigma^2; divide "
             "by it (or multiply by exp(-x_logvar))."},
        ]

    gn_inputs = []
    for lbl, shape in [("4 images of 6 pixels", (4, 6)), ("3 images of 1x4x4", (3, 1, 4, 4)),
                       ("2 images of 10 pixels with small variances", (2, 10))]:
        x = torch.rand(*shape, generator=g, dtype=D)
        x_mu = torch.rand(*shape, generator=g, dtype=D)
        x_logvar = torch.randn(*shape, generator=g, dtype=D) - (4.0 if "small" in lbl else 0.0)
        gn_inputs.append((lbl, x, x_mu, x_logvar))
    gn_cases = [case(lbl, {"x": x, "x_mu": m, "x_logvar": lv}, gnll_fn(x, m, lv), gnll_mistakes(x, m, lv))
                for lbl, x, m, lv in gn_inputs]

    # ----------------------------------------------------------------------------- importance sampling
    ZGRID = torch.linspace(-14.0, 14.0, 56_001, dtype=D)
    DZ = float(ZGRID[1] - ZGRID[0])

    def log_lik_grid(a, b, x):
        logits = ZGRID[:, None, None] * a + b                              # [G, 1, P]
        return -F.binary_cross_entropy_with_logits(logits.expand(-1, len(x), -1), x.expand(len(ZGRID), -1, -1),
                                                   reduction="none").sum(-1)  # [G, N]

    def log_normal(z, m, lv):
        return -0.5 * (LOG2PI + lv + (z - m) ** 2 / lv.exp())

    def quad_log_int(log_f):                                                # log of the integral over z of exp(log_f)
        return torch.logsumexp(log_f, 0) + math.log(DZ)

    # case A: z-independent decoder, 784 pixels, q = prior: every weight equals log p(x) exactly
    P_A, N_A, K_A = 784, 3, 5
    b_A = 2.0 * (2 * (torch.rand(P_A, generator=g) > 0.5).to(D) - 1)
    x_A = (torch.rand(N_A, P_A, generator=g) > 0.5).to(D)
    exact_A = (x_A * F.logsigmoid(b_A) + (1 - x_A) * F.logsigmoid(-b_A)).sum(1)
    model_A = dict(a=torch.zeros(P_A, dtype=D), b=b_A, w_mu=torch.zeros(P_A, dtype=D), c_mu=0.0,
                   w_lv=torch.zeros(P_A, dtype=D), c_lv=0.0)
    case_A = {"label": "a 784-pixel model whose decoder ignores z (q = p(z), so every sample gives the exact log p(x))",
              "x": x_A, "k": K_A, "model": model_A, "expected": exact_A, "atol": 1e-6, "seed": 0,
              "mistakes": [{"value": exact_A + math.log(K_A), "atol": 1e-6,
                            "hint": "it is log SUM_k w_k; the estimate needs the MEAN of the weights: subtract log k."}]}

    # case B: a 1-D latent with an informative decoder, q a deliberately imperfect Gaussian
    P_B, N_B, K_B = 8, 5, 5_000
    a_B = 1.5 * torch.randn(P_B, generator=g, dtype=D)
    b_B = torch.randn(P_B, generator=g, dtype=D)
    z_true = torch.randn(N_B, generator=g, dtype=D)
    x_B = (torch.rand(N_B, P_B, generator=g, dtype=D) < torch.sigmoid(z_true[:, None] * a_B + b_B)).to(D)
    assert len({tuple(r.tolist()) for r in x_B}) == N_B, "rows must differ"
    ll = log_lik_grid(a_B, b_B, x_B)                                         # [G, N]
    log_joint = ll + log_normal(ZGRID, torch.tensor(0.0, dtype=D), torch.tensor(0.0, dtype=D))[:, None]
    log_px = quad_log_int(log_joint)                                         # exact log p(x), [N]
    post = (log_joint - log_px - math.log(1 / DZ)).exp() * DZ               # posterior weights on the grid
    post = post / post.sum(0)
    m = (post * ZGRID[:, None]).sum(0)
    v = (post * (ZGRID[:, None] - m) ** 2).sum(0)
    q_mu, q_lv = m + 0.3 * v.sqrt(), torch.log(3 * v)                        # broader than the posterior, shifted
    X_aug = torch.cat([x_B, torch.ones(N_B, 1, dtype=D)], 1)
    w_mu = torch.linalg.pinv(X_aug) @ q_mu
    w_lv = torch.linalg.pinv(X_aug) @ q_lv
    model_B = dict(a=a_B, b=b_B, w_mu=w_mu[:-1], c_mu=float(w_mu[-1]), w_lv=w_lv[:-1], c_lv=float(w_lv[-1]))
    tiny = TinyLatentModel(**model_B)
    mu_chk, lv_chk = tiny.encode(x_B)
    assert torch.allclose(mu_chk[:, 0], q_mu, atol=1e-8) and torch.allclose(lv_chk[:, 0], q_lv, atol=1e-8)
    log_q = log_normal(ZGRID[:, None], q_mu, q_lv)                           # [G, N]
    q_w = log_q.exp() * DZ
    elbo_B = (q_w * (log_joint - log_q)).sum(0)
    no_logq = quad_log_int(log_q + log_joint)                                 # log E_q[p(x, z)]
    plus_logq = quad_log_int(log_q + log_joint + log_q)                       # log E_q[p(x, z) q(z|x)]
    no_prior = quad_log_int(ll)                                               # log E_q[p(x|z) / q(z|x)]
    runs = []
    for seed in range(20):
        torch.manual_seed(seed)
        runs.append(is_fn(tiny, x_B, K_B))
    runs = torch.stack(runs)
    spread = (runs - log_px).abs().max().item()
    print(f"case B: exact log p(x) {log_px.tolist()}\n  ELBO {elbo_B.tolist()}")
    print(f"  largest IS error over 20 runs {spread:.4f}")
    atol_B = max(0.03, 3 * spread)
    case_B = {"label": "a model with a 1-D latent z and an informative decoder", "x": x_B, "k": K_B, "model": model_B,
              "expected": log_px, "atol": atol_B, "seed": 1, "mistakes": [
                  {"value": log_px + math.log(K_B), "atol": 0.15,
                   "hint": "it is log SUM_k w_k; the estimate needs the MEAN of the weights: subtract log k."},
                  {"value": elbo_B, "atol": 0.1, "hint": "that is the ELBO (the mean of the log-weights). Importance "
                   "sampling takes the log of the mean of the weights: logsumexp(log_w, dim=0) - log k."},
                  {"value": no_logq, "atol": 0.15, "hint": "log q(z|x) is not subtracted: the weights are "
                   "p(x|z) p(z) / q(z|x)."},
                  {"value": plus_logq, "atol": 0.15, "hint": "log q(z|x) is added; it must be SUBTRACTED."},
                  {"value": no_prior, "atol": 0.15, "hint": "the prior term log p(z) is missing: the weights are "
                   "p(x|z) p(z) / q(z|x)."},
              ]}
    for mm in case_B["mistakes"]:
        assert (mm["value"] - log_px).abs().min() > atol_B + mm["atol"], mm["hint"]

    table = {
        "kl_standard_normal": {"cases": kl_cases},
        "kl_diagonal_gaussians": {"cases": kld_cases},
        "negative_elbo": {"cases": ne_cases},
        "gaussian_nll": {"cases": gn_cases},
        "importance_sampled_log_likelihood": {"cases": [case_A, case_B]},
    }
    return table
