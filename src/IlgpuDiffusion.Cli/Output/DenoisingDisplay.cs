using System.Diagnostics;
using System.Globalization;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Sampling;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace IlgpuDiffusion.Cli.Output;

/// <summary>
/// Runs a sampler through its streaming API and shows the denoising as it happens: on a terminal, a live view of the
/// partially revealed sequences (one <c>_</c> per masked token) on the error stream; elsewhere one progress line per step.
/// </summary>
internal static class DenoisingDisplay
{
    /// <summary>Sequences shown in the live view; the others are sampled but not drawn.</summary>
    private const int ShownSequences = 4;

    private const char MaskGlyph = '_';

    /// <summary>
    /// Samples with <paramref name="sampler"/> of a model over <paramref name="tokenizer"/> with MASK id <paramref name="maskId"/>,
    /// displaying every step, and returns the finished result.
    /// </summary>
    public static async Task<SamplingResult> RunAsync(CliConsole console, DiffusionSampler sampler, SamplingPrompt? prompt,
        Tokenizer tokenizer, int maskId, CancellationToken cancellationToken)
    {
        long start = Stopwatch.GetTimestamp();
        int[] ids = [];
        int passes = 0;
        if (console.Interactive)
        {
            await console.ErrorConsole.Live(new Text("Sampling ...")).AutoClear(false).StartAsync(async context =>
            {
                await foreach (SamplingProgress progress in sampler.StreamAsync(prompt, cancellationToken))
                {
                    context.UpdateTarget(Render(progress, tokenizer, maskId));
                    context.Refresh();
                    if (progress.IsFinal) (ids, passes) = (progress.Ids.ToArray(), progress.ForwardPasses);
                }
            });
        }
        else
        {
            await foreach (SamplingProgress progress in sampler.StreamAsync(prompt, cancellationToken))
            {
                await console.Error.WriteLineAsync(Status(progress));
                if (progress.IsFinal) (ids, passes) = (progress.Ids.ToArray(), progress.ForwardPasses);
            }
        }
        return new SamplingResult(ids, sampler.Options.BatchSize, sampler.Length, passes, Stopwatch.GetElapsedTime(start));
    }

    private static string Status(SamplingProgress progress) => string.Create(CultureInfo.InvariantCulture,
        $"{(progress.IsFinal ? "noise removal" : $"step {progress.Step}/{progress.Steps}")} | t {progress.Time:F4} | " +
        $"revealed {progress.Revealed} | masked {progress.MaskedCount} | forward passes {progress.ForwardPasses}");

    private static IRenderable Render(SamplingProgress progress, Tokenizer tokenizer, int maskId)
    {
        var panels = new List<IRenderable> { new Text(Status(progress)) };
        int shown = Math.Min(progress.BatchSize, ShownSequences);
        for (int i = 0; i < shown; i++)
        {
            string text = SampleText.DecodePartial(progress.Ids.Slice(i * progress.Length, progress.Length), tokenizer, maskId,
                MaskGlyph);
            panels.Add(new Panel(new Text(text)) { Header = new PanelHeader($"sample {i + 1}"), Expand = true });
        }
        if (progress.BatchSize > shown) panels.Add(new Text($"(and {progress.BatchSize - shown} more)"));
        return new Rows(panels);
    }
}
