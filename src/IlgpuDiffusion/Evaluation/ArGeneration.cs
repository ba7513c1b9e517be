using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// Unconditional samples of the AR baseline for generative perplexity (the paper compares with GPT-2 samples): each
/// sequence starts with BOS and <see cref="GptDecoder"/> draws the other length − 1 tokens (KV cache, no stop at
/// end-of-text, as the diffusion samples run to their full length). Batch b draws with seed <c>seed + b</c>.
/// </summary>
internal static class ArGeneration
{
    /// <summary>
    /// <paramref name="count"/> samples of <paramref name="length"/> tokens, BOS first, drawn with nucleus mass
    /// <paramref name="topP"/> (1: ancestral).
    /// </summary>
    /// <param name="progress">Called with (samples done, count) after each batch.</param>
    /// <exception cref="ArgumentException">The length is outside [2, the model's length], or BOS is outside its vocabulary.</exception>
    public static int[][] Unconditional(Gpt model, int count, int length, int batchSize, ulong seed, float topP = 1f,
        Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        if (length < 2 || length > model.Config.Length)
            throw new ArgumentException($"AR samples need 2 to {model.Config.Length} tokens (the model's length); got {length}.",
                nameof(length));
        int bos = Tokenizer.FromName(model.Config.Tokenizer).Bos;
        if (bos >= model.Config.Vocab)
            throw new ArgumentException($"The AR model's {model.Config.Vocab} tokens do not hold its tokenizer's BOS ({bos}).",
                nameof(model));
        var samples = new int[count][];
        for (int first = 0, batch = 0; first < count; first += batchSize, batch++)
        {
            int size = Math.Min(batchSize, count - first);
            using var decoder = new GptDecoder(model, size, length, maxPromptLength: 1,
                new GptSamplingOptions { TopP = topP, Seed = seed + (ulong)batch });
            GptGenerationResult result = decoder.Generate(Enumerable.Repeat<int[]>([bos], size).ToArray());
            for (int b = 0; b < size; b++) samples[first + b] = result.Tokens[b];
            progress?.Invoke(first + size, count);
        }
        return samples;
    }
}
