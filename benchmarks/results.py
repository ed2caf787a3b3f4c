"""The course's results table: measures on this machine and writes ``benchmarks/RESULTS.md`` (and the README's copy).

    python benchmarks/results.py                 # everything: about 15 minutes on 2 CPU cores
    python benchmarks/results.py --quick         # a smoke run: 10,000 probe images, fewer iterations (not results)
    python benchmarks/results.py --skip-throughput

What it measures here, now:

- **Quality of the released checkpoints** (``course_utils/released/``), each next to its baseline: linear-probe
  accuracy on the Fashion-MNIST test set with all 60,000 labels for raw pixels, PCA (32), the random-weights CNN
  and ViT, and the AE, DAE, VAE (mu), SimCLR (h) and MAE encoders; the VAE's test negative ELBO and
  importance-sampled NLL (nats, dynamically binarized images) against independent Bernoulli pixels; the VAE's
  anomaly-detection AUROC (digits, noise) against chance.
- **Throughput**, side by side with the naive pipelines, by running ``vae_throughput.py`` (course pipeline
  against a per-sample ``DataLoader`` + ``ToTensor``) and ``simclr_mae_throughput.py`` (batched augmentation
  against per-sample PIL; SimCLR and MAE training images per second).

It also lists, with their own dates and machines, what other scripts recorded (``benchmarks/results/*.json``:
notebook wall times from ``tools/time_notebooks.py``, the VAE reference match and the convolutional VAE). A
missing released checkpoint is reported as missing, never replaced by a number.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from course_utils import capstone as cs
from course_utils.assign import solution_namespace
from course_utils.data import load_digits, load_fashion_mnist
from course_utils.evaluate import extract_features, linear_probe
from course_utils.mae import Features
from course_utils.models import MLPVAE
from course_utils.released import is_released, load_released, manifest
from course_utils.simclr import Encoder
from course_utils.speed import machine

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def auroc(inlier: torch.Tensor, outlier: torch.Tensor) -> float:
    """P(an outlier scores lower log p(x) than an inlier), ties counting half: scikit-learn's ROC AUC, as in 03."""
    from sklearn.metrics import roc_auc_score

    labels = torch.cat([torch.zeros(len(inlier)), torch.ones(len(outlier))])
    return float(roc_auc_score(labels.numpy(), (-torch.cat([inlier, outlier]).double()).numpy()))


def quality(args) -> tuple[list[tuple], list[str]]:
    rows, notes = [], []
    train, test = load_fashion_mnist(train=True), load_fashion_mnist(train=False)
    n = 10_000 if args.quick else len(train.images)
    iters = 50 if args.quick else 200
    Xtr, ytr, Xte, yte = train.images[:n], train.labels[:n], test.images, test.labels

    def probe(module) -> tuple[float, float]:
        t0 = time.perf_counter()
        if module is None or isinstance(module, torch.nn.Module):  # None: the raw pixels
            f_tr, f_te = extract_features(module, Xtr), extract_features(module, Xte)
        else:  # a plain function of the images (PCA)
            f_tr, f_te = module(Xtr), module(Xte)
        acc = linear_probe(f_tr, ytr, f_te, yte, max_iter=iters).accuracy
        return acc, time.perf_counter() - t0

    label = f"linear probe, {n:,} labels, test acc."
    acc_raw, s = probe(None)
    rows.append(("raw pixels (784)", label, f"{acc_raw:.4f}", "(baseline; 0.842 in the Fashion-MNIST paper)",
                 f"{s:.0f} s"))
    flat = Xtr.flatten(1)
    mean = flat.mean(0)
    _, _, V = torch.linalg.svd(flat - mean, full_matrices=False)
    acc_pca, s = probe(lambda X: (X.flatten(1) - mean) @ V[:32].T)
    rows.append(("PCA (32)", label, f"{acc_pca:.4f}", "(baseline)", f"{s:.0f} s"))

    mae_code = cs.load_your_code("05_mae", ROOT / "solutions")
    width = manifest().get("simclr", {}).get("config", {}).get("width", 24)
    torch.manual_seed(0)
    acc_rcnn, s = probe(Encoder(width))
    rows.append((f"random CNN (SimCLR's f, width {width})", label, f"{acc_rcnn:.4f}", "(baseline)", f"{s:.0f} s"))
    acc_rvit, s = probe(Features(cs.build_mae(mae_code, seed=1)))
    rows.append(("random ViT (the MAE's encoder)", label, f"{acc_rvit:.4f}", "(baseline)", f"{s:.0f} s"))
    baseline = {"ae": acc_raw, "dae": acc_raw, "vae": acc_raw, "simclr": acc_rcnn, "mae": acc_rvit}
    base_name = {"ae": "raw", "dae": "raw", "vae": "raw", "simclr": "random CNN", "mae": "random ViT"}
    for name in ("ae", "dae", "vae", "simclr", "mae"):
        got = cs.released_features(name, mae_code)
        if got is None:
            rows.append((f"released {name!r}", label, "not released", "", ""))
            notes.append(f"`{name}` is not released yet: run tools/release_checkpoints.py after a full-profile run.")
            continue
        module, entry = got
        acc, s = probe(module)
        rows.append((f"released {name!r} ({entry['hardware'].split(',')[0]})", label, f"{acc:.4f}",
                     f"{acc - baseline[name]:+.4f} vs {base_name[name]}", f"{s:.0f} s"))

    if is_released("supervised"):  # notebook 02's supervised baseline: a classifier, so its own test accuracy
        payload, entry = load_released("supervised")
        net = cs.load_your_code("02_autoencoders", ROOT / "solutions").namespace["SupervisedNet"]()  # not an exercise
        net.load_state_dict(payload["state_dict"])
        acc = cs.accuracy(net.eval(), Xte, yte)
        rows.append((f"released 'supervised' ({entry['hardware'].split(',')[0]})", "f_V + g_W trained on every "
                     "label, test acc.", f"{acc:.4f}", f"{acc - acc_raw:+.4f} vs raw pixels + linear", ""))
    else:
        notes.append("`supervised` is not released yet: run tools/release_checkpoints.py after a full-profile run.")

    if is_released("vae"):
        ns = solution_namespace(ROOT / "solutions" / "03_vae.ipynb")
        payload, _ = load_released("vae")
        vae = MLPVAE(payload["config"]["latent_dim"])
        vae.load_state_dict(payload["state_dict"])
        vae.eval()
        g = torch.Generator().manual_seed(10)
        m = 1_000 if args.quick else len(Xte)
        x_bin = torch.bernoulli(Xte[:m], generator=g)
        t0 = time.perf_counter()
        with torch.no_grad():
            mu, logvar = vae.encode(x_bin)
            z = ns["reparameterize"](mu, logvar, generator=torch.Generator().manual_seed(0))
            nelbo = ns["negative_elbo"](x_bin, vae.decode(z), mu, logvar).item()
            k = 20 if args.quick else args.is_k
            log_px = torch.cat([ns["importance_sampled_log_likelihood"](vae, x_bin[i : i + 100], k)
                                for i in range(0, m, 100)])
        s = time.perf_counter() - t0
        p = train.images.flatten(1).mean(0).clamp(1e-4, 1 - 1e-4)  # independent Bernoulli pixels: the baseline
        xb = x_bin.flatten(1)
        nll_pixels = -(xb * p.log() + (1 - xb) * (1 - p).log()).sum(1).mean().item()
        rows.append(("released 'vae'", f"test -ELBO, nats ({m:,} binarized images)", f"{nelbo:.2f}",
                     f"{nll_pixels:.2f} independent pixels", f"{s:.0f} s"))
        rows.append(("released 'vae'", f"test NLL by IS, k = {k}, nats", f"{-log_px.mean().item():.2f}",
                     f"{nll_pixels:.2f} independent pixels", ""))
        n_ood = 297 if args.quick else 1_000
        digits = torch.bernoulli(load_digits(train=False).images[:n_ood], generator=g)
        noise = torch.bernoulli(torch.rand(n_ood, 1, 28, 28, generator=g), generator=g)
        with torch.no_grad():
            for name, X in (("digits (28x28)", digits), ("uniform noise", noise)):
                scores = torch.cat([ns["importance_sampled_log_likelihood"](vae, X[i : i + 100], 100)
                                    for i in range(0, len(X), 100)])
                a = auroc(log_px, scores)
                rows.append(("released 'vae'", f"anomaly AUROC, {name} vs Fashion-MNIST", f"{a:.3f}", "0.500 chance",
                             ""))
    else:
        notes.append("`vae` is not released yet: no density or anomaly numbers.")
    return rows, notes


def throughput(args) -> list[tuple]:
    """Run the two throughput scripts (unless ``--skip-throughput``: then their last recorded JSON is shown)."""
    rows = []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    rounds = "1" if args.quick else "3"
    runs = [("vae_throughput.py", ["--rounds", rounds, "--out", str(RESULTS / "vae_throughput.json")]),
            ("simclr_mae_throughput.py", [])]
    for script, extra in [] if args.skip_throughput else runs:
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *extra], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            rows.append((script, "failed", done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "", "", ""))
            continue
        print(f"{script}: {time.perf_counter() - t0:.0f} s")
    v = json.loads((RESULTS / "vae_throughput.json").read_text())
    rows.append(("VAE training (pytorch/examples MLP)", "epochs per second, course vs per-sample DataLoader",
                 f"{v['speedup_median']:.2f}x median", f"per round {v['speedup_per_round']}", v.get("when", "")))
    t = json.loads((RESULTS / "simclr_mae_throughput.json").read_text())
    a = t["augmentation"]
    rows.append(("SimCLR augmentation", "images per second, batched vs per-sample PIL",
                 f"{a['batched_images_per_s']:,.0f}", f"{a['per_sample_pil_images_per_s']:,.0f} "
                 f"({a['speedup']:.1f}x)", ""))
    for prof, r in t["simclr_train"].items():
        rows.append((f"SimCLR training ({prof} model, width {r['width']})", "images per second (2 views each)",
                     f"{r['images_per_s']:,.0f}", f"{r['epoch_seconds_60k']:.0f} s per 60k epoch", ""))
    m = t["mae_train"]
    rows.append(("MAE training (mask 0.75)", "images per second", f"{m['images_per_s']:,.0f}",
                 f"{m['epoch_seconds_60k']:.0f} s per 60k epoch", ""))
    return rows


def markdown_table(columns: list[str], rows: list[list[object]]) -> list[str]:
    """A Markdown table: the header row, the rule, and one line per row."""
    return (["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
            + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def gpu_lines() -> list[str]:
    """The recorded GPU run (``benchmarks/results/gpu_run.json``, from ``tools/gpu_full_run.sh``): absolute times."""
    path = RESULTS / "gpu_run.json"
    if not path.exists():
        return []
    r = json.loads(path.read_text())
    lines = ["", f"GPU figures, absolute ({r['device']}, {r['date']}; `{path.relative_to(ROOT)}`). {r['sharing']}", ""]
    lines += markdown_table(["full profile", "wall time", "note"], [
        [f"`{nb}`", f"{e['wall_seconds'] / 60:.1f} min" if e.get("wall_seconds") else "-", e.get("note", "")]
        for nb, e in r["notebooks_full_profile_seconds"].items()])
    t = r["simclr_release_training"]
    lines += ["", f"Released SimCLR (`{t['script']}`): {t['epochs']} epochs in {t['train_seconds']:.0f} s, "
              f"median {t['images_per_second_median']:,} training images/s ({t['epoch_seconds_median']} s per epoch); "
              f"linear probe {t['linear_probe_all_labels']}, 20-NN {t['knn20']}."]
    return lines


def capstone_lines(released: dict) -> list[str]:
    """Notebook 06's released runs (``tools/release_capstone.py``), with the metrics recorded at release."""
    runs = {k: v for k, v in released.items() if v["config"].get("notebook") == "06_when_does_ssl_work"}
    if not runs:
        return []
    hours = sum(v["train_seconds"] for v in runs.values()) / 3600
    hardware = sorted({v["hardware"] for v in runs.values()})
    lines = ["", f"Notebook 06's released runs ({len(runs)} checkpoints, `tools/release_capstone.py`; "
             f"{sum(v['bytes'] for v in runs.values()) / 1e6:.1f} MB in float16; trained in {hours:.1f} h on "
             f"{'; '.join(hardware)}). Metrics as recorded at release, on the 10,000 test images:", ""]
    variants = sorted((v["config"]["variant"] for k, v in runs.items() if v["config"].get("kind") == "simclr"),
                      key=lambda var: (not var[2:].isdigit(), int(var[2:]) if var[2:].isdigit() else 0, var))
    if variants:
        def probe(key):
            return runs.get(key, {}).get("metrics", {}).get("linear_probe_all_labels")

        lines += markdown_table(["pretrained on"] + variants, [
            [f"{method}, linear probe on all labels"]
            + ["-" if probe(method + v) is None else f"{probe(method + v):.3f}" for v in variants]
            for method in ("simclr", "ae")])
    groups: dict[tuple, list[float]] = {}
    for k, v in runs.items():
        c = v["config"]
        if c.get("kind") in ("cnn_classifier", "vit_classifier"):
            what = ("supervised CNN" if c["kind"] == "cnn_classifier" else "MAE fine-tuned") + \
                f", {c['classes']} classes"
            groups.setdefault((what, c["n"]), []).append(v["metrics"]["test_accuracy"])
    if groups:
        sizes = sorted({n for _, n in groups})
        rows = []
        for what in sorted({w for w, _ in groups}):
            cells = []
            for n in sizes:
                acc = torch.tensor(groups.get((what, n), []), dtype=torch.float64)
                cells.append("-" if not len(acc) else f"{acc.mean():.3f}" +
                             (f" ± {acc.std():.3f} ({len(acc)} seeds)" if len(acc) > 1 else ""))
            rows.append([f"{what}, test accuracy"] + cells)
        lines += [""] + markdown_table(["trained on labels"] + [f"{n:,}" for n in sizes], rows)
    return lines


# the files of a timing script on each CPU it was run on: ``<script>.json`` from the main machine (AVX-512 with native
# bf16), ``<script>_avx2_cpu.json`` from one with AVX2 and no AVX-512 (float32 training, like most laptops),
# ``<script>_amx_cpu.json`` from an Intel Xeon with AMX (AVX-512, native bf16 and bf16 matrix tiles),
# ``<script>_zen5_cpu.json`` from an AMD EPYC of CPU family 26 (Zen 5: AVX-512 and bf16 at full width)
TIMED_CPUS = (("", "on the main machine"), ("_avx2_cpu", "on a CPU with AVX2 and no AVX-512"),
              ("_amx_cpu", "on an Intel Xeon with AMX (AVX-512 and bf16)"),
              ("_zen5_cpu", "on an AMD EPYC of CPU family 26 (Zen 5; AVX-512 and bf16)"))


def table_section(caption: str, columns: list[str], rows: list[list[object]]) -> list[str]:
    """A recorded result as a caption line and a Markdown table (each row's cells already formatted)."""
    return ["", caption, ""] + markdown_table(columns, rows)


def recorded_json(name: str) -> dict | None:
    """A benchmark's recorded result ``benchmarks/results/<name>``, or None when it was never recorded."""
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def recorded() -> list[str]:
    lines = gpu_lines() + capstone_lines(manifest())
    for name, where in TIMED_CPUS:
        times = RESULTS / f"notebook_times{name}.json"
        if not times.exists():
            continue
        lines += table_section(
            f"Notebook wall times {where} (`tools/time_notebooks.py`, `{times.name}`; an empty cache trains "
            "everything):",
            ["profile", "notebook", "wall time", "ok", "started", "load before / after",
             "host matmul GFLOP/s before / after", "cache before"],
            [[prof, f"`{nb}`", f"{e['wall_seconds'] / 60:.1f} min", "yes" if e["ok"] else "NO", e["started"],
              f"{e['load_average_before'][0]} / {e['load_average_after'][0]}",
              f"{e['host_matmul_before']:.0f} / {e['host_matmul_after']:.0f}" if "host_matmul_after" in e else "-",
              e["cache_before"].split(" in ")[0]]
             for prof, table in sorted(json.loads(times.read_text()).items()) for nb, e in sorted(table.items())])
    if r := recorded_json("probe_precision.json"):
        lines += table_section(
            f"Linear probe precision (`probe_precision.py`, {r['started']}, {r['n_train']:,} labels, "
            f"{r['threads']} threads; the fastest of each):",
            ["features", "float64", "float32", "speedup", "test accuracy float64 / float32"],
            [[name, f"{x['float64_s']} s", f"{x['float32_s']} s", f"{x['speedup']}x",
              f"{x['accuracy_float64']} / {x['accuracy_float32']}"] for name, x in r["summary"].items()])
    if r := recorded_json("probe_iterations.json"):
        counts = sorted({row["max_iter"] for row in r["rows"]})
        rows = []
        for name in dict.fromkeys(row["features"] for row in r["rows"]):
            got = {row["max_iter"]: row for row in r["rows"] if row["features"] == name}
            rows.append([name] + [f"{got[c]['test_accuracy']:.4f} ({got[c]['seconds']:.1f})" if c in got else "-"
                                  for c in counts])
        lines += table_section(
            f"Linear probe test accuracy by L-BFGS iterations (`probe_iterations.py`, {r['started']}, "
            f"{r['n_train']:,} labels; the `full` profile uses 200; seconds in brackets):",
            ["features"] + [str(c) for c in counts], rows)
    for name, where in TIMED_CPUS:
        loops = RESULTS / f"training_loops{name}.json"
        if not loops.exists():
            continue
        r = json.loads(loops.read_text())
        m, peak = r["machine"], r["peak_gflops"]
        lines += table_section(
            f"Training loops {where} (`training_loops.py`, `{loops.name}`, {r['started']}, {r['profile']} "
            f"profile, {m['torch_threads']} threads, native bf16: {m['native_bf16']}; peak float32 matmul "
            f"{peak['float32']['matmul']:.0f} GFLOP/s, conv {peak['float32']['conv']:.0f}):",
            ["notebook", "loop", "MFLOP/image", "before: images/s (of matmul peak), s", "now", "speedup"],
            [[row["notebook"], row["loop"], f"{b['flops_per_image'] / 1e6:.1f}",
              f"{b['images_per_s']:,.0f} ({b['fraction_of_matmul']:.2f}), {b['projected_seconds']:.0f}",
              f"{n['images_per_s']:,.0f} ({n['fraction_of_matmul']:.2f} of {n['autocast'] or 'float32'}), "
              f"{n['projected_seconds']:.0f}", f"{b['projected_seconds'] / n['projected_seconds']:.2f}x"]
             for row in r["loops"] for b, n in [(row["before"], row["now"])]])
    if r := recorded_json("inference_batch.json"):
        sizes = list(r["encoders"][0]["images_per_s"])
        lines += table_section(
            f"Feature extraction by batch size (`inference_batch.py`, {r['started']}, {r['machine']}; "
            f"autocast {r['autocast']}; images/s):",
            ["encoder"] + sizes + ["default"],
            [[row["encoder"]] + [f"{row['images_per_s'][b]:,}" for b in sizes] + [row["default_batch"]]
             for row in r["encoders"]])
    if r := recorded_json("attention.json"):
        lines += table_section(
            f"The ViT's attention, fused kernel against written out (`attention.py`, {r['started']}, {r['machine']}; "
            f"{r['unit']}, {r['rounds']} rounds interleaved; the course keeps the fused one):",
            ["loop", "fused kernel", "written out", "ratio"],
            [[row["loop"], f"{row['fused kernel']:,}", f"{row['written out']:,}",
              f"{row['written_out_over_fused']:.2f}x"] for row in r["rows"]])
    if r := recorded_json("compile.json"):
        lines += table_section(
            f"`torch.compile` of the training steps (`compile.py`, {r['started']}, {r['machine']}; autocast "
            f"{r['autocast']}; an empty compilation cache; the course runs them eager):",
            ["loop", "eager, images/s", "compiled, images/s", "compiling, s", "net saving over the loop, s"],
            [[f"{row['loop']} ({row['images']:,} images)", f"{row['eager']['images_per_s']:,}",
              f"{row['compiled']['images_per_s']:,}", row["compile_seconds"], f"{row['net_saving_seconds']:+}"]
             for row in r["rows"]])
    if r := recorded_json("vae_reference.json"):
        mlp = r.get("mlp_course_pipeline", {})
        lines += ["", f"VAE reference (`vae_reference.py`, {r.get('started', '?')}): pytorch/examples MLP VAE, 10 "
                  f"epochs, test loss {mlp.get('test_loss')} against 244.35 "
                  f"(relative {mlp.get('relative_difference')})."]
        for path in [RESULTS / "vae_reference.json"] + sorted(RESULTS.glob("vae_conv_*.json")):
            conv = json.loads(path.read_text()).get("conv_vae")
            if conv:
                lines.append(f"Convolutional VAE `{path.name}` {conv.get('architecture', {})}: test loss "
                             f"{conv['test_loss']}, {conv['improvement_over_244.35_nats']} nats below 244.35 and "
                             f"{conv['improvement_over_reference_mlp_nats']} below the course's MLP run (goal 5).")
    return lines


def table(rows) -> list[str]:
    return markdown_table(["what", "measure", "value", "next to it", "time"], rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run on fewer images (not results)")
    ap.add_argument("--skip-throughput", action="store_true", help="show the last recorded throughput instead")
    ap.add_argument("--is-k", type=int, default=100, help="importance samples for the test NLL")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md")
    ap.add_argument("--no-readme", action="store_true", help="do not update the README's copy")
    args = ap.parse_args(argv)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    t0 = time.perf_counter()
    q_rows, notes = quality(args)
    t_rows = throughput(args)
    released = manifest()
    body = [f"Measured by `python benchmarks/results.py{' --quick' if args.quick else ''}` on {started}, "
            f"in {(time.perf_counter() - t0) / 60:.0f} min, on: {machine()}.", ""]
    if args.quick:
        body += ["**A quick smoke run (`--quick`): fewer images and iterations; these are not results.**", ""]
    body += ["Quality (released checkpoints, evaluated here):", ""] + table(q_rows)
    if t_rows:
        when = ("recorded earlier by the throughput scripts (`--skip-throughput`), see their JSON for the date"
                if args.skip_throughput else "measured now")
        body += ["", f"Throughput, {when} (ratios and medians; absolute figures depend on the machine and its load):",
                 ""]
        body += table(t_rows)
    if released:
        trained = [f"`{k}` trained {v['train_seconds'] / 60:.1f} min on {v['hardware']}"
                   for k, v in sorted(released.items()) if v["config"].get("notebook") is None]
        body += ["", "Released checkpoints (`course_utils/released/manifest.json`): " + "; ".join(trained)]
    body += [f"- {n}" for n in notes]
    text = "# Results\n\n" + "\n".join(body + ["", "Recorded by other scripts:"] + recorded()) + "\n"
    args.out.write_text(text)
    print(text)
    readme = ROOT / "README.md"
    if not args.no_readme and not args.quick and BEGIN in readme.read_text():
        r = readme.read_text()
        t_head = ["", "Throughput" + (" (recorded earlier by the throughput scripts)" if args.skip_throughput else "")
                  + ":", ""]
        block = "\n".join(body[:1] + [""] + table(q_rows) + (t_head + table(t_rows) if t_rows else []) + gpu_lines()
                          + capstone_lines(released))
        readme.write_text(r[: r.index(BEGIN) + len(BEGIN)] + "\n" + block + "\n" + r[r.index(END):])
        print("updated the README's results block")
    return 0


if __name__ == "__main__":
    sys.exit(main())
