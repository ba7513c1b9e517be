using System.Globalization;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion.Cli.Runs;

/// <summary>What to sample.</summary>
/// <param name="Options">The sampler's settings.</param>
/// <param name="Length">Tokens per sequence (one window), at most the model's length.</param>
/// <param name="Prompt">Fixed positions, or null for unconditional samples.</param>
/// <param name="TotalLength">
/// Tokens per sequence of semi-autoregressive generation beyond <paramref name="Length"/>; null for one window.
/// </param>
/// <param name="Stride">New tokens per further semi-autoregressive window.</param>
/// <param name="Stream">Show the denoising step by step (one window only).</param>
internal sealed record SamplingRequest(SamplerOptions Options, int Length, SamplingPrompt? Prompt, int? TotalLength, int Stride,
    bool Stream);

/// <summary>Runs the sampler once as a request asks: one window, streamed with a live display, or semi-autoregressive.</summary>
internal static class SamplingRun
{
    /// <summary>Samples from <paramref name="model"/>.</summary>
    /// <exception cref="ArgumentException">The request does not fit the model (length, prompt, stride).</exception>
    public static async Task<SamplingResult> RunAsync(CliConsole console, Dit model, SamplingRequest request,
        CancellationToken cancellationToken)
    {
        using var sampler = new DiffusionSampler(model, request.Options, request.Length);
        if (request.TotalLength is int total)
        {
            string windows = string.Create(CultureInfo.InvariantCulture, $"Sampling {request.Options.BatchSize} sequence(s) " +
                $"of {total} tokens, {sampler.WindowCount(total, request.Stride)} windows of {request.Options.Steps} steps");
            return ProgressBars.Counting(console, windows, progress => sampler.SampleLong(total, request.Stride, request.Prompt,
                cancellationToken, progress is null ? null : new StepCountBar(progress)));
        }
        if (request.Stream)
            return await DenoisingDisplay.RunAsync(console, sampler, request.Prompt, Tokenizer.FromName(model.Config.Tokenizer),
                model.Config.MaskIndex, cancellationToken);
        string label = string.Create(CultureInfo.InvariantCulture,
            $"Sampling {request.Options.BatchSize} sequence(s), {request.Options.Steps} steps");
        return ProgressBars.Counting(console, label, progress => sampler.Sample(request.Prompt, cancellationToken,
            progress is null ? null : new StepCountBar(progress)));
    }
}
