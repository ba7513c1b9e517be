using System.CommandLine;
using System.Globalization;
using IlgpuDiffusion.Benchmarking;
using IlgpuDiffusion.Cli.Options;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Ilgpu;
using IlgpuDiffusion.Ilgpu.Kernels;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Cli.Commands;

/// <summary>
/// <c>bench</c>: the latency comparison of docs/algorithms.md §5.7 (<see cref="LatencyComparison"/>): wall time to generate B
/// sequences of L tokens with a DiT's diffusion sampler (Tiny unless --preset names another) at each step count, cached and
/// uncached, against the parameter-matched GPT decoding with its KV cache, on one device; prints a Markdown table with the
/// ratio AR time / diffusion time.
/// </summary>
internal static class BenchCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(CliConsole console)
    {
        var command = new Command("bench", "Latency: generate B sequences of L tokens with the diffusion sampler at N steps (cached and " +
            "uncached) and with a parameter-matched GPT decoding with its KV cache (Tiny models unless --preset names others, random " +
            "weights: the cost does not depend on the weights); print a Markdown table with AR time / diffusion time.");
        var batch = new Option<int>("--batch")
        {
            Description = "Sequences generated together (B)",
            DefaultValueFactory = _ => 8,
        }.Positive();
        var length = new Option<int>("--length") { Description = "Tokens per sequence (L)", DefaultValueFactory = _ => 128 }.Positive();
        var steps = new StepCountList("Diffusion step counts, L for as many steps as tokens", ["8", "16", "32", "64", "128", "L"],
            allowLength: true);
        var runs = new Option<int>("--runs")
        {
            Description = "Timed runs per generator after one warm-up run",
            DefaultValueFactory = _ => 1,
        }.Positive();
        var gemm = new Option<bool>("--gemm")
        {
            Description = "Instead: time the GEMMs of a training step of the model --preset names (every Linear forward, input and " +
                "weight gradient, and the head) over --batch × --length token rows, in TFLOP/s",
        };
        var attention = new Option<bool>("--attention")
        {
            Description = "Instead: time the attention of one layer of a training step of the model --preset names (forward and " +
                "backward, bidirectional) over --batch sequences of --length tokens, in TFLOP/s",
        };
        var profile = new Option<bool>("--profile")
        {
            Description = "After each generator's timed runs, run it once more under a profile of the device and print where " +
                "that run's time goes, op by op (the timed runs stay unprofiled)",
        };
        var preset = new Option<string?>("--preset")
        {
            Description = "The DiT (random weights) to time: tiny, small, medium or large; the latency comparison's default is " +
                "tiny, --gemm's and --attention's small",
        };
        preset.AcceptOnlyFromAmong("tiny", "small", "medium", "large");
        var device = new DeviceOptions(command);
        foreach (var option in new Option[] { batch, length, steps.Option, runs, gemm, attention, profile, preset })
            command.Options.Add(option);
        command.SetAction(parse =>
        {
            if (parse.GetValue(gemm) || parse.GetValue(attention))
            {
                using Device opened = device.Open(parse);
                DitConfig model = Preset(parse.GetValue(preset) ?? "small");
                if (parse.GetValue(gemm))
                {
                    int tokens = checked(parse.GetValue(batch) * parse.GetValue(length));
                    console.Out.Write(GemmTable(opened, model, tokens, parse.GetValue(runs)));
                }
                if (parse.GetValue(attention))
                {
                    var shape = new AttentionShape(parse.GetValue(batch), parse.GetValue(length), model.Heads, model.HeadDim);
                    console.Out.Write(AttentionTable(opened, shape, parse.GetValue(runs)));
                }
                return CliApplication.Success;
            }
            int l = parse.GetValue(length);
            var options = new LatencyOptions
            {
                BatchSize = parse.GetValue(batch),
                Length = l,
                Steps = steps.Parse(parse, l),
                TimedRuns = parse.GetValue(runs),
                Profile = parse.GetValue(profile),
            }.Validate();
            using var backend = device.Open(parse);
            var ditConfig = Preset(parse.GetValue(preset) ?? "tiny") with { Length = l };
            using var dit = new Dit(ditConfig, backend, withGradients: false);
            dit.Initialize(1);
            using var gpt = new Gpt(LatencyComparison.MatchedGpt(ditConfig, l), backend, withGradients: false);
            gpt.Initialize(1);
            var report = LatencyComparison.Run(dit, gpt, options, row =>
                console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{row.Generator} N={row.Steps?.ToString(CultureInfo.InvariantCulture) ?? "-"} {row.Mean.TotalSeconds:F3} s")));
            console.Out.Write(report.ToMarkdown());
            foreach (LatencyMeasurement row in report.Measurements.Where(row => row.Profile is not null))
            {
                console.Out.Write($"\n### {Name(row)}\n");
                console.Out.Write(ProfileTable.Markdown(row.Profile!, 1, report.Device, "run", leftOut: null));
            }
            return CliApplication.Success;
        });
        return command;
    }

    /// <summary>The generator of <paramref name="row"/>, its step count and cache: "diffusion, 32 steps, cached".</summary>
    private static string Name(LatencyMeasurement row) => row.Steps is int n
        ? string.Create(CultureInfo.InvariantCulture, $"{row.Generator}, {n} steps, {(row.Cached == true ? "cached" : "uncached")}")
        : row.Generator;

    private static DitConfig Preset(string name) => name switch
    {
        "tiny" => DitConfig.Tiny,
        "medium" => DitConfig.Medium,
        "large" => DitConfig.Large,
        _ => DitConfig.Small,
    };

    /// <summary>
    /// Times one layer's attention forward and backward; a Markdown table. Where the device's TF32 backward runs its key pass
    /// in blocks of 64 keys, the backward in blocks of 32 is timed beside it; where it runs the BF16 attention of heads of 64,
    /// the attention with the other staging of its tiles (cp.async, or through registers); each on a further device of the
    /// same accelerator.
    /// </summary>
    private static string AttentionTable(Device device, AttentionShape shape, int runs)
    {
        AttentionMeasurement measured = AttentionThroughput.Time(device, shape, runs);
        var text = new System.Text.StringBuilder();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Attention of one layer, B {shape.Batch} × H {shape.Heads} × L {shape.Tokens} × d {shape.HeadDim}, bidirectional, " +
            $"on {device.Description}, mean of {runs} run(s):"));
        text.AppendLine();
        text.AppendLine("| pass | ms | TFLOP/s |");
        text.AppendLine("|---|---:|---:|");
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"| forward | {measured.Forward.TotalMilliseconds:0.000} | {measured.ForwardTeraFlops:0.00} |"));
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"| backward | {measured.Backward.TotalMilliseconds:0.000} | {measured.BackwardTeraFlops:0.00} |"));
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"| **forward + backward** | {(measured.Forward + measured.Backward).TotalMilliseconds:0.000} | " +
            $"{measured.TotalTeraFlops:0.00} |"));
        if (device is IlgpuDevice { Precision: MatMulPrecision.Tf32 } blocks && shape.HeadDim == AttentionFragments.HeadWidth &&
            blocks.Tf32KeyBlocks())
        {
            using var other = IlgpuDevice.Open(blocks.Backend, blocks.Precision, blocks.Index,
                new KernelChoices(DeepTf32: blocks.DeepTf32, GemmLaunchBounds: blocks.GemmLaunchBounds, Tf32KeyBlocks: false));
            AttentionMeasurement keys32 = AttentionThroughput.Time(other, shape, runs);
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| backward, key pass in blocks of 32 keys (of 64 above) | {keys32.Backward.TotalMilliseconds:0.000} | " +
                $"{keys32.BackwardTeraFlops:0.00} |"));
        }
        if (device is IlgpuDevice { Precision: MatMulPrecision.Bf16 } bf16 && shape.HeadDim == AttentionFragments.HeadWidth)
        {
            bool pipelined = bf16.PipelinedAttention();
            using var other = IlgpuDevice.Open(bf16.Backend, bf16.Precision, bf16.Index,
                new KernelChoices(GemmLaunchBounds: bf16.GemmLaunchBounds, PipelinedAttention: !pipelined));
            if (other.PipelinedAttention() != pipelined)
            {
                AttentionMeasurement staged = AttentionThroughput.Time(other, shape, runs);
                string tiles = pipelined ? "staged through registers" : "copied by cp.async";
                text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"| forward, key tiles {tiles} | {staged.Forward.TotalMilliseconds:0.000} | {staged.ForwardTeraFlops:0.00} |"));
                text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                    $"| backward, tiles {tiles} | {staged.Backward.TotalMilliseconds:0.000} | " +
                    $"{staged.BackwardTeraFlops:0.00} |"));
            }
        }
        return text.ToString();
    }

    /// <summary>
    /// Times every GEMM of a training step of <paramref name="model"/> over <paramref name="tokens"/> rows; a Markdown table.
    /// Where the device runs the TF32 GEMMs in stages of 32 of k, loads them with launch bounds, or runs BF16 ones on BF16
    /// copies of their operands, the kernels without each are timed beside them, on further devices of the same accelerator;
    /// BF16 ones on copies also with the other staging of the copies (through registers, or cp.async), TF32 ones with the
    /// other staging of TF32 (on copies through cp.async, or on fp32 operands through registers), and both, on a GPU that
    /// has them, on copies on (or off) Hopper's warpgroup products.
    /// </summary>
    private static string GemmTable(Device device, DitConfig model, int tokens, int runs)
    {
        var alternatives = new List<(string Label, Device Device)>();
        try
        {
            if (device is IlgpuDevice { DeepTf32: true } deep)
                alternatives.Add(("stages of 16", IlgpuDevice.Open(deep.Backend, deep.Precision, deep.Index,
                    new KernelChoices(DeepTf32: false, GemmLaunchBounds: deep.GemmLaunchBounds))));
            if (device is IlgpuDevice { GemmLaunchBounds: true } bounded)
                alternatives.Add(("no launch bounds", IlgpuDevice.Open(bounded.Backend, bounded.Precision, bounded.Index,
                    new KernelChoices(DeepTf32: bounded.DeepTf32, GemmLaunchBounds: false))));
            if (device is IlgpuDevice { Precision: MatMulPrecision.Tf32 } tf32)
                alternatives.Add((tf32.PipelinedCopies ? "fp32 operands staged by registers" : "copies staged by cp.async",
                    IlgpuDevice.Open(tf32.Backend, tf32.Precision, tf32.Index, new KernelChoices(GemmLaunchBounds: tf32.GemmLaunchBounds,
                        PipelinedCopies: !tf32.PipelinedCopies))));
            if (device is IlgpuDevice { Precision: MatMulPrecision.Bf16, CopiesFrom: < int.MaxValue } copies)
            {
                alternatives.Add(("fp32 operands", IlgpuDevice.Open(copies.Backend, copies.Precision, copies.Index,
                    new KernelChoices(GemmLaunchBounds: copies.GemmLaunchBounds, CopiesFrom: int.MaxValue))));
                alternatives.Add((copies.PipelinedCopies ? "copies staged by registers" : "copies staged by cp.async",
                    IlgpuDevice.Open(copies.Backend, copies.Precision, copies.Index, new KernelChoices(
                        GemmLaunchBounds: copies.GemmLaunchBounds, PipelinedCopies: !copies.PipelinedCopies))));
            }
            if (device is IlgpuDevice { Precision: MatMulPrecision.Tf32 or MatMulPrecision.Bf16 } tensorCores)
            {
                var warpgroup = IlgpuDevice.Open(tensorCores.Backend, tensorCores.Precision, tensorCores.Index, new KernelChoices(
                    GemmLaunchBounds: tensorCores.GemmLaunchBounds, PipelinedCopies: tensorCores.PipelinedCopies,
                    WarpgroupProducts: !tensorCores.WarpgroupProducts));
                if (warpgroup.WarpgroupProducts == tensorCores.WarpgroupProducts)
                    warpgroup.Dispose(); // a GPU without warpgroup products
                else
                    alternatives.Add((tensorCores.WarpgroupProducts ? "copies on mma.sync" : "copies on warpgroup products", warpgroup));
            }
            return GemmTable(device, alternatives, model, tokens, runs);
        }
        finally
        {
            foreach (var (_, other) in alternatives) other.Dispose();
        }
    }

    private static string GemmTable(Device device, List<(string Label, Device Device)> alternatives, DitConfig model, int tokens,
        int runs)
    {
        var text = new System.Text.StringBuilder();
        text.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"GEMMs of a training step, D {model.Hidden}, {tokens} token rows, on {device.Description}, mean of {runs} run(s):"));
        text.AppendLine();
        text.AppendLine("| product | layout | M × N × K | ms | TFLOP/s |" +
            string.Concat(alternatives.Select(a => $" {a.Label}: ms | TFLOP/s |")));
        text.AppendLine("|---|---|---|---:|---:|" + string.Concat(alternatives.Select(_ => "---:|---:|")));
        double flops = 0;
        var seconds = new double[alternatives.Count + 1];
        foreach (GemmShape shape in GemmThroughput.TrainingShapes(model, tokens))
        {
            flops += shape.Flops;
            text.Append(string.Create(CultureInfo.InvariantCulture,
                $"| {shape.Name} | {shape.Layout} | {shape.M} × {shape.N} × {shape.K} |"));
            for (int i = 0; i < seconds.Length; i++)
            {
                GemmMeasurement measured = GemmThroughput.Time(i == 0 ? device : alternatives[i - 1].Device, shape, runs);
                seconds[i] += measured.Mean.TotalSeconds;
                text.Append(string.Create(CultureInfo.InvariantCulture,
                    $" {measured.Mean.TotalMilliseconds:0.000} | {measured.TeraFlops:0.00} |"));
            }
            text.AppendLine();
        }
        text.Append("| **all** | | |");
        foreach (double total in seconds)
            text.Append(string.Create(CultureInfo.InvariantCulture, $" {total * 1000:0.000} | {flops / total / 1e12:0.00} |"));
        text.AppendLine();
        return text.ToString();
    }
}
