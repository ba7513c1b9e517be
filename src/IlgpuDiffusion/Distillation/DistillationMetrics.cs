using System.Globalization;
using System.Text.Json;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Distillation;

/// <summary>One log interval of distillation steps (JSON kind <c>distill</c>): the optimizer's metrics with the round and Δ.</summary>
/// <param name="Interval">Loss (mean divergence), gradient norm, lr, ms/step (teacher passes included), student tokens/s and MFU.</param>
/// <param name="Round">
/// The round (from 0) of the interval's last step; the log line and the JSON field number it from 1, as the round checkpoint
/// files do.
/// </param>
/// <param name="StepSize">Δ: the teacher's step size in that round.</param>
public sealed record DistillationMetrics(TrainingMetrics Interval, int Round, double StepSize) : IMetricsRecord
{
    /// <inheritdoc/>
    public string Kind => "distill";

    /// <inheritdoc/>
    public long Step => Interval.Step;

    /// <inheritdoc/>
    public string HumanLine(string stepText) => string.Create(CultureInfo.InvariantCulture,
        $"step {stepText} | round {Round + 1} (Δ {StepSize:0.####e+00}) | {Interval.Summary}");

    /// <inheritdoc/>
    public void WriteFields(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteNumber("round", Round + 1);
        writer.WriteMetric("delta", StepSize);
        Interval.WriteFields(writer);
    }
}

/// <summary>The end of a round (JSON kind <c>round</c>): its student, where it was saved, and its validation when run.</summary>
/// <param name="Step">Optimizer steps done.</param>
/// <param name="Round">
/// The round (from 0) that ended; the log line and the JSON field number it from 1, as its checkpoint file
/// <c>round-{Round + 1}-{SamplingSteps}-steps.safetensors</c> does.
/// </param>
/// <param name="SamplingSteps">Sampling steps of the round's student: N₀/2^(round+1).</param>
/// <param name="MeanLoss">Mean distillation loss over the round's steps run in this process.</param>
/// <param name="CheckpointPath">The round's checkpoint, or null when none was written.</param>
/// <param name="Validation">Validation NELBO of the student's EMA weights, or null when not run.</param>
public sealed record DistillationRoundMetrics(long Step, int Round, int SamplingSteps, double MeanLoss, string? CheckpointPath,
    ValidationMetrics? Validation) : IMetricsRecord
{
    /// <inheritdoc/>
    public string Kind => "round";

    /// <inheritdoc/>
    public string HumanLine(string stepText)
    {
        string validation = Validation is { } v
            ? string.Create(CultureInfo.InvariantCulture, $" | validation NELBO {v.Nelbo:F4} (PPL ≤ {v.Perplexity:F2})")
            : "";
        string saved = CheckpointPath is null ? "" : $" | saved {CheckpointPath}";
        return string.Create(CultureInfo.InvariantCulture,
            $"step {stepText} | round {Round + 1} done: student samples in {SamplingSteps} steps | " +
            $"mean loss {MeanLoss:F5}{validation}{saved}");
    }

    /// <inheritdoc/>
    public void WriteFields(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteNumber("round", Round + 1);
        writer.WriteNumber("samplingSteps", SamplingSteps);
        writer.WriteMetric("meanLoss", MeanLoss);
        if (CheckpointPath is not null) writer.WriteString("checkpoint", CheckpointPath);
        if (Validation is { } v)
        {
            writer.WriteMetric("validationNelbo", v.Nelbo);
            writer.WriteMetric("validationPerplexity", v.Perplexity);
        }
    }
}
