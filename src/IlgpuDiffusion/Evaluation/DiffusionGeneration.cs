using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// Sample sets for evaluation from a diffusion model with the ancestral sampler (<see cref="DiffusionSampler"/>, default
/// settings: cached, temperature 1, no nucleus, noise removal). Batch b of a call samples with seed <c>seed + b</c>, so a
/// set is fixed by (model, steps, count, length, batch size, seed).
/// </summary>
internal static class DiffusionGeneration
{
    /// <summary>
    /// <paramref name="count"/> unconditional samples of <paramref name="length"/> tokens at <paramref name="steps"/> steps.
    /// </summary>
    /// <param name="progress">Called with (samples done, count) after each batch.</param>
    public static int[][] Unconditional(Dit model, int steps, int count, int length, int batchSize, ulong seed,
        Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        var samples = new int[count][];
        for (int first = 0, batch = 0; first < count; first += batchSize, batch++)
        {
            int size = Math.Min(batchSize, count - first);
            using var sampler = new DiffusionSampler(model,
                new SamplerOptions { Steps = steps, BatchSize = size, Seed = seed + (ulong)batch }, length);
            SamplingResult result = sampler.Sample();
            for (int b = 0; b < size; b++) samples[first + b] = result.Sequence(b).ToArray();
            progress?.Invoke(first + size, count);
        }
        return samples;
    }

    /// <summary>
    /// <paramref name="perPrompt"/> continuations of every prompt (SDTT's <c>sample_cond_prefix</c>): the prompt's tokens
    /// are fixed at positions 0.., the sampler fills the rest of <paramref name="length"/> tokens. Returns, per prompt, its
    /// full sequences (prompt then continuation).
    /// </summary>
    /// <param name="progress">Called with (sequences done, total) after each batch.</param>
    /// <exception cref="ArgumentException">No prompt, or a prompt empty or not shorter than <paramref name="length"/>.</exception>
    public static int[][][] Continuations(Dit model, int steps, IReadOnlyList<int[]> prompts, int perPrompt, int length, int batchSize,
        ulong seed, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentOutOfRangeException.ThrowIfLessThan(perPrompt, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (prompts.Count == 0) throw new ArgumentException("Prompted generation needs at least one prompt.", nameof(prompts));
        for (int i = 0; i < prompts.Count; i++)
            if (prompts[i] is null || prompts[i].Length == 0 || prompts[i].Length >= length)
                throw new ArgumentException($"Prompt {i} has {prompts[i]?.Length ?? 0} tokens; " +
                    $"a prompt needs 1 to {length - 1} to leave room for a continuation.", nameof(prompts));
        int total = prompts.Count * perPrompt;
        var result = new int[prompts.Count][][];
        for (int p = 0; p < prompts.Count; p++) result[p] = new int[perPrompt][];
        for (int first = 0, batch = 0; first < total; first += batchSize, batch++)
        {
            int size = Math.Min(batchSize, total - first);
            var batchPrompts = new int[size][];
            for (int b = 0; b < size; b++) batchPrompts[b] = prompts[(first + b) / perPrompt];
            using var sampler = new DiffusionSampler(model,
                new SamplerOptions { Steps = steps, BatchSize = size, Seed = seed + (ulong)batch }, length);
            SamplingResult sampled = sampler.Sample(SamplingPrompt.Prefixes(batchPrompts));
            for (int b = 0; b < size; b++) result[(first + b) / perPrompt][(first + b) % perPrompt] = sampled.Sequence(b).ToArray();
            progress?.Invoke(first + size, total);
        }
        return result;
    }
}
