using IlgpuDiffusion.Evaluation;
using IlgpuDiffusion.Files;
using OxyPlot;
using OxyPlot.Annotations;
using OxyPlot.Axes;
using OxyPlot.Legends;
using OxyPlot.Series;

namespace IlgpuDiffusion.Cli.Demo;

/// <summary>
/// The report's figures as SVG files, drawn by OxyPlot's managed SVG exporter with text measured by
/// <see cref="PixelTextMeasurer"/>, so no native graphics library or installed font is needed. Each file is written atomically;
/// the text is placed without <c>dominant-baseline</c>, which some SVG viewers ignore.
/// </summary>
internal static class DemoPlots
{
    private const int Width = 800, Height = 500;
    private const double Thickness = 1.5, TeacherThickness = 3, MarkerRadius = 3;
    private const int MostPointsWithMarkers = 40;
    private const string ValuesKey = "values", CategoriesKey = "categories";

    /// <summary>File name of the training curves of the teacher and the judge.</summary>
    public const string Training = "training.svg";

    /// <summary>File name of the distillation loss.</summary>
    public const string Distillation = "distillation.svg";

    /// <summary>File name of generative perplexity against sampling steps (the paper's Figure 1 analogue).</summary>
    public const string GenerativePerplexity = "gen-ppl.svg";

    /// <summary>File name of the unigram entropy against sampling steps.</summary>
    public const string Entropy = "entropy.svg";

    /// <summary>File name of the cloze accuracy per model.</summary>
    public const string Cloze = "cloze.svg";

    /// <summary>File name of the latency against the AR model.</summary>
    public const string Latency = "latency.svg";

    /// <summary>Every figure's file name, in report order.</summary>
    public static IReadOnlyList<string> All { get; } = [Training, Distillation, GenerativePerplexity, Entropy, Cloze, Latency];

    /// <summary>Draws every figure into <see cref="DemoLayout.Figures"/>.</summary>
    /// <exception cref="InvalidOperationException">A figure could not be laid out (named in the message).</exception>
    public static void Write(DemoLayout layout, DemoResults results)
    {
        Save(TrainingCurves(layout), layout, Training);
        Save(DistillationLoss(layout), layout, Distillation);
        Save(OverSteps(results, DemoResults.GenPplSdtt, "Generative perplexity (own AR judge, SDTT convention)", "Gen PPL"), layout,
            GenerativePerplexity);
        Save(OverSteps(results, EvaluationRow.EntropyName, "Mean unigram entropy of the samples", "Entropy (nats)"), layout, Entropy);
        Save(ClozeBars(results), layout, Cloze);
        Save(LatencyCurve(results), layout, Latency);
    }

    private static PlotModel TrainingCurves(DemoLayout layout)
    {
        PlotModel plot = Plot("Training curves", new LinearAxis { Position = AxisPosition.Bottom, Title = "optimizer step" },
            ValueAxis("nats per token"));
        Curve(plot, MetricsSeries.Read(layout.TeacherMetrics, "train", "loss"), "MDLM teacher: training NELBO", LineStyle.Solid);
        Curve(plot, MetricsSeries.Read(layout.TeacherMetrics, "validation", "nelbo"), "MDLM teacher: validation NELBO (EMA)",
            LineStyle.Dash);
        Curve(plot, MetricsSeries.Read(layout.JudgeMetrics, "train", "loss"), "AR judge: training NLL", LineStyle.Solid);
        Curve(plot, MetricsSeries.Read(layout.JudgeMetrics, "validation", "nll"), "AR judge: validation NLL (EMA)", LineStyle.Dash);
        return plot;
    }

    private static PlotModel DistillationLoss(DemoLayout layout)
    {
        // The last round ends at the last step: padding keeps its label inside the plot.
        var steps = new LinearAxis { Position = AxisPosition.Bottom, Title = "optimizer step", MaximumPadding = 0.04 };
        PlotModel plot = Plot("Distillation (dotted: end of a round, the student's sampling steps)", steps,
            ValueAxis("divergence per masked token"));
        Curve(plot, MetricsSeries.Read(layout.DistillMetrics, "distill", "loss"), "SDTT loss (reverse KL)", LineStyle.Solid);
        MetricsSeries rounds = MetricsSeries.Read(layout.DistillMetrics, "round", "samplingSteps");
        for (int i = 0; i < rounds.Steps.Length; i++)
        {
            plot.Annotations.Add(new LineAnnotation
            {
                Type = LineAnnotationType.Vertical,
                X = rounds.Steps[i],
                LineStyle = LineStyle.Dot,
                Color = OxyColors.Gray,
                Text = $"{rounds.Values[i]:0} steps",
            });
        }
        return plot;
    }

    /// <summary>One line per diffusion model of <paramref name="metric"/> over the sampling steps, on a log₂ axis.</summary>
    private static PlotModel OverSteps(DemoResults results, string metric, string title, string label)
    {
        PlotModel plot = Plot(title, new StepsAxis(results.Steps), ValueAxis(label));
        double[] x = results.Steps.Select(StepsAxis.Coordinate).ToArray();
        foreach (string model in results.DiffusionModels)
        {
            LineSeries line = Line(model, LineStyle.Solid, markers: true);
            if (model == DistillationStage.TeacherName) line.StrokeThickness = TeacherThickness;
            line.Points.AddRange(x.Zip(results.OverSteps(model, metric), (step, value) => new DataPoint(step, value)));
            plot.Series.Add(line);
        }
        return plot;
    }

    private static PlotModel ClozeBars(DemoResults results)
    {
        string[] models = [.. results.DiffusionModels, EvaluationStage.JudgeName];
        double[] accuracy = models.Select(m => 100 * (results.Value(m, null, DemoResults.ClozeAccuracy) ?? double.NaN)).ToArray();
        var categories = new CategoryAxis { Position = AxisPosition.Bottom, Key = CategoriesKey };
        categories.Labels.AddRange(models.Select(Short));
        LinearAxis values = ValueAxis("accuracy (%)");
        values.Minimum = 0;
        values.Maximum = Math.Max(1, 1.2 * accuracy.Where(double.IsFinite).DefaultIfEmpty(0).Max());
        PlotModel plot = Plot("LAMBADA-style cloze on held-out documents", categories, values, legend: false);
        var bars = new BarSeries { XAxisKey = ValuesKey, YAxisKey = CategoriesKey };
        for (int i = 0; i < models.Length; i++)
            if (double.IsFinite(accuracy[i])) bars.Items.Add(new BarItem(accuracy[i]) { CategoryIndex = i });
        plot.Series.Add(bars);
        return plot;
    }

    private static PlotModel LatencyCurve(DemoResults results)
    {
        int[] steps = results.Steps.Where(n => results.DiffusionSeconds(n) is not null).ToArray();
        PlotModel plot = Plot($"Latency: {results.Latency.BatchSize} sequences of {results.Latency.Length} tokens",
            new StepsAxis(steps), ValueAxis("seconds"));
        LineSeries diffusion = Line("diffusion sampler (cached)", LineStyle.Solid, markers: true);
        diffusion.Points.AddRange(steps.Select(n => new DataPoint(StepsAxis.Coordinate(n), results.DiffusionSeconds(n)!.Value)));
        plot.Series.Add(diffusion);
        LineSeries ar = Line("AR judge, KV cache", LineStyle.Dash, markers: false);
        double seconds = results.Latency.Autoregressive.Mean.TotalSeconds;
        if (steps.Length > 0)
            ar.Points.AddRange([new(StepsAxis.Coordinate(steps[0]), seconds), new(StepsAxis.Coordinate(steps[^1]), seconds)]);
        plot.Series.Add(ar);
        return plot;
    }

    private static void Curve(PlotModel plot, MetricsSeries series, string label, LineStyle style)
    {
        if (series.IsEmpty) return;
        LineSeries line = Line(label, style, markers: series.Steps.Length <= MostPointsWithMarkers);
        line.Points.AddRange(series.Steps.Zip(series.Values, (step, value) => new DataPoint(step, value)));
        plot.Series.Add(line);
    }

    private static LineSeries Line(string label, LineStyle style, bool markers) => new()
    {
        Title = label,
        LineStyle = style,
        StrokeThickness = Thickness,
        MarkerType = markers ? MarkerType.Circle : MarkerType.None,
        MarkerSize = MarkerRadius,
    };

    private static LinearAxis ValueAxis(string title) => new() { Position = AxisPosition.Left, Title = title, Key = ValuesKey };

    private static PlotModel Plot(string title, Axis x, Axis y, bool legend = true)
    {
        var plot = new PlotModel { Title = title, Background = OxyColors.White, DefaultFont = "Helvetica, Arial, sans-serif" };
        plot.Axes.Add(x);
        plot.Axes.Add(y);
        if (legend)
        {
            plot.Legends.Add(new Legend
            {
                LegendPlacement = LegendPlacement.Outside,
                LegendPosition = LegendPosition.BottomCenter,
                LegendOrientation = LegendOrientation.Horizontal,
            });
        }
        return plot;
    }

    /// <summary>A model label short enough for a tick: "round 2 (32)", "teacher", "AR".</summary>
    private static string Short(string model) => model switch
    {
        DistillationStage.TeacherName => "teacher",
        EvaluationStage.JudgeName => "AR",
        _ => model.Replace("SDTT ", "", StringComparison.Ordinal).Replace(" steps)", ")", StringComparison.Ordinal),
    };

    /// <summary>Lays <paramref name="plot"/> out and writes it; OxyPlot draws a failure into the figure, so it is raised here.</summary>
    private static void Save(PlotModel plot, DemoLayout layout, string name)
    {
        var exporter = new SvgExporter
        {
            Width = Width,
            Height = Height,
            TextMeasurer = new PixelTextMeasurer(Width, Height),
            UseVerticalTextAlignmentWorkaround = true,
        };
        string svg = exporter.ExportToString(plot);
        if (plot.GetLastPlotException() is { } failure)
            throw new InvalidOperationException($"The figure {name} could not be laid out: {failure.Message}", failure);
        AtomicFile.WriteAllText(Path.Combine(layout.Figures, name), svg);
    }
}
