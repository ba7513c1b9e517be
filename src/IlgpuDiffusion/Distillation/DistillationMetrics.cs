using System.Globalization;
using System.Text.Json;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Distillation;

/// <summary>Averages over one log interval of distillation steps (JSON kind <c>distill</c>).</summary>
/// <param name="Step">Optimizer steps done.</param>
/// <param name="Round">The round (from 0) of the interval's last step.</param>
/// <param name="StepSize">Δ: the teacher's step size in that round.</param>
/// <param name="Loss">Mean divergence of the interval's steps.</param>
/// <param name="GradientNorm">Global gradient L2 norm (before clipping) of the last step.</param>
/// <param name="LearningRate">Learning rate of the last step.</param>
/// <param name="MillisecondsPerStep">Wall time per optimizer step (teacher passes included).</param>
/// <param name="TokensPerSecond">Student token slots (B·L·accumulation per step) per second.</param>
public sealed record DistillationMetrics(long Step, int Round, double StepSize, double Loss, double GradientNorm,
    double LearningRate, double MillisecondsPerStep, double TokensPerSecond) : IMetricsRecord
{
    /// <inheritdoc/>
    public string Kind => "distill";

    /// <inheritdoc/>
    public string HumanLine(string stepText) => string.Create(CultureInfo.InvariantCulture,
        $"step {stepText} | round {Round} (Δ {StepSize:0.####e+00}) | loss {Loss:F5} | norm {GradientNorm:F4} | lr {LearningRate:0.00e+00} | " +
        $"{MillisecondsPerStep:F1} ms | {TokensPerSecond:N0} tok/s");

    /// <inheritdoc/>
    public void WriteFields(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteNumber("round", Round);
        writer.WriteNumber("delta", StepSize);
        writer.WriteNumber("loss", Loss);
        writer.WriteNumber("gradNorm", GradientNorm);
        writer.WriteNumber("lr", LearningRate);
        writer.WriteNumber("msPerStep", MillisecondsPerStep);
        writer.WriteNumber("tokensPerSecond", TokensPerSecond);
    }
}

/// <summary>The end of a round (JSON kind <c>round</c>): its student, where it was saved, and its validation when run.</summary>
/// <param name="Step">Optimizer steps done.</param>
/// <param name="Round">The round (from 0) that ended.</param>
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
            $"step {stepText} | round {Round} done: student samples in {SamplingSteps} steps | mean loss {MeanLoss:F5}{validation}{saved}");
    }

    /// <inheritdoc/>
    public void WriteFields(Utf8JsonWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteNumber("round", Round);
        writer.WriteNumber("samplingSteps", SamplingSteps);
        writer.WriteNumber("meanLoss", MeanLoss);
        if (CheckpointPath is not null) writer.WriteString("checkpoint", CheckpointPath);
        if (Validation is { } v)
        {
            writer.WriteNumber("validationNelbo", v.Nelbo);
            writer.WriteNumber("validationPerplexity", v.Perplexity);
        }
    }
}
