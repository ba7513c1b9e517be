using IlgpuDiffusion.Evaluation;
using ScottPlot;

namespace IlgpuDiffusion.Cli.Demo;

/// <summary>The report's figures as PNG files (ScottPlot), each written through a temporary file.</summary>
internal static class DemoPlots
{
    private const int Width = 800, Height = 500;

    /// <summary>File name of the training curves of the teacher and the judge.</summary>
    public const string Training = "training.png";

    /// <summary>File name of the distillation loss.</summary>
    public const string Distillation = "distillation.png";

    /// <summary>File name of generative perplexity against sampling steps (the paper's Figure 1 analogue).</summary>
    public const string GenerativePerplexity = "gen-ppl.png";

    /// <summary>File name of the unigram entropy against sampling steps.</summary>
    public const string Entropy = "entropy.png";

    /// <summary>File name of the cloze accuracy per model.</summary>
    public const string Cloze = "cloze.png";

    /// <summary>File name of the latency against the AR model.</summary>
    public const string Latency = "latency.png";

    /// <summary>Every figure's file name, in report order.</summary>
    public static IReadOnlyList<string> All { get; } = [Training, Distillation, GenerativePerplexity, Entropy, Cloze, Latency];

    /// <summary>Draws every figure into <see cref="DemoLayout.Figures"/>.</summary>
    public static void Write(DemoLayout layout, DemoResults results)
    {
        Directory.CreateDirectory(layout.Figures);
        Save(TrainingCurves(layout), layout, Training);
        Save(DistillationLoss(layout), layout, Distillation);
        Save(OverSteps(results, DemoResults.GenPplSdtt, "Generative perplexity (own AR judge, SDTT convention)", "Gen PPL"), layout,
            GenerativePerplexity);
        Save(OverSteps(results, EvaluationRow.EntropyName, "Mean unigram entropy of the samples", "Entropy (nats)"), layout, Entropy);
        Save(ClozeBars(results), layout, Cloze);
        Save(LatencyCurve(results), layout, Latency);
    }

    private static Plot TrainingCurves(DemoLayout layout)
    {
        var plot = new Plot();
        Line(plot, MetricsSeries.Read(layout.TeacherMetrics, "train", "loss"), "MDLM teacher: training NELBO", LinePattern.Solid);
        Line(plot, MetricsSeries.Read(layout.TeacherMetrics, "validation", "nelbo"), "MDLM teacher: validation NELBO (EMA)",
            LinePattern.Dashed);
        Line(plot, MetricsSeries.Read(layout.JudgeMetrics, "train", "loss"), "AR judge: training NLL", LinePattern.Solid);
        Line(plot, MetricsSeries.Read(layout.JudgeMetrics, "validation", "nll"), "AR judge: validation NLL (EMA)", LinePattern.Dashed);
        return Labelled(plot, "Training curves", "optimizer step", "nats per token");
    }

    private static Plot DistillationLoss(DemoLayout layout)
    {
        var plot = new Plot();
        Line(plot, MetricsSeries.Read(layout.DistillMetrics, "distill", "loss"), "SDTT loss (reverse KL)", LinePattern.Solid);
        MetricsSeries rounds = MetricsSeries.Read(layout.DistillMetrics, "round", "samplingSteps");
        for (int i = 0; i < rounds.Steps.Length; i++)
        {
            var end = plot.Add.VerticalLine(rounds.Steps[i]);
            end.LinePattern = LinePattern.Dotted;
            end.Text = $"{rounds.Values[i]:0} steps";
        }
        return Labelled(plot, "Distillation (dotted: end of a round, the student's sampling steps)", "optimizer step",
            "divergence per masked token");
    }

    /// <summary>One line per diffusion model of <paramref name="metric"/> over the sampling steps, on a log₂ axis.</summary>
    private static Plot OverSteps(DemoResults results, string metric, string title, string label)
    {
        var plot = new Plot();
        double[] x = results.Steps.Select(n => Math.Log2(n)).ToArray();
        foreach (string model in results.DiffusionModels)
        {
            var line = plot.Add.Scatter(x, results.OverSteps(model, metric));
            line.LegendText = model;
            if (model == DistillationStage.TeacherName) line.LineWidth = 3;
        }
        StepsAxis(plot, results.Steps);
        return Labelled(plot, title, "sampling steps", label);
    }

    private static Plot ClozeBars(DemoResults results)
    {
        var plot = new Plot();
        string[] models = [.. results.DiffusionModels, EvaluationStage.JudgeName];
        double[] accuracy = models.Select(m => 100 * (results.Value(m, null, DemoResults.ClozeAccuracy) ?? double.NaN)).ToArray();
        plot.Add.Bars(accuracy);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, models.Length).Select(i => (double)i).ToArray(), models.Select(Short).ToArray());
        double highest = accuracy.Where(double.IsFinite).DefaultIfEmpty(0).Max();
        plot.Axes.SetLimitsY(0, Math.Max(1, 1.2 * highest));
        return Labelled(plot, "LAMBADA-style cloze on held-out documents", "", "accuracy (%)", legend: false);
    }

    private static Plot LatencyCurve(DemoResults results)
    {
        var plot = new Plot();
        int[] steps = results.Steps.Where(n => results.DiffusionSeconds(n) is not null).ToArray();
        var diffusion = plot.Add.Scatter(steps.Select(n => Math.Log2(n)).ToArray(),
            steps.Select(n => results.DiffusionSeconds(n)!.Value).ToArray());
        diffusion.LegendText = "diffusion sampler (cached)";
        var ar = plot.Add.HorizontalLine(results.Latency.Autoregressive.Mean.TotalSeconds);
        ar.LegendText = "AR judge, KV cache";
        ar.LinePattern = LinePattern.Dashed;
        StepsAxis(plot, steps);
        return Labelled(plot, $"Latency: {results.Latency.BatchSize} sequences of {results.Latency.Length} tokens", "sampling steps",
            "seconds");
    }

    private static void Line(Plot plot, MetricsSeries series, string label, LinePattern pattern)
    {
        if (series.IsEmpty) return;
        var line = plot.Add.Scatter(series.Steps, series.Values);
        line.LegendText = label;
        line.LinePattern = pattern;
        line.MarkerSize = series.Steps.Length > 40 ? 0 : 5;
    }

    private static void StepsAxis(Plot plot, IReadOnlyList<int> steps) =>
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            steps.Select(n => Math.Log2(n)).ToArray(),
            steps.Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());

    private static Plot Labelled(Plot plot, string title, string x, string y, bool legend = true)
    {
        plot.Title(title);
        plot.XLabel(x);
        plot.YLabel(y);
        if (legend) plot.ShowLegend(Edge.Bottom);
        return plot;
    }

    /// <summary>A model label short enough for a tick: "round 2 (32)", "teacher", "AR".</summary>
    private static string Short(string model) => model switch
    {
        DistillationStage.TeacherName => "teacher",
        EvaluationStage.JudgeName => "AR",
        _ => model.Replace("SDTT ", "", StringComparison.Ordinal).Replace(" steps)", ")", StringComparison.Ordinal),
    };

    private static void Save(Plot plot, DemoLayout layout, string name)
    {
        string path = Path.Combine(layout.Figures, name), temporary = Path.Combine(layout.Figures, "." + name);
        plot.SavePng(temporary, Width, Height);
        File.Move(temporary, path, overwrite: true);
    }
}
