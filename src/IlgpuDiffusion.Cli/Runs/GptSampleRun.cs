using System.Diagnostics;
using System.Globalization;
using IlgpuDiffusion.Cli.Output;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion.Cli.Runs;

/// <summary>What <c>sample</c> generates from a GPT checkpoint.</summary>
/// <param name="Options">Seed, temperature, top-p and draw of every token.</param>
/// <param name="BatchSize">Sequences generated together.</param>
/// <param name="Length">Tokens per sequence, the prompt included, at most the model's length.</param>
/// <param name="Prompt">Text every sequence starts with (after BOS), or null.</param>
internal sealed record GptSampleRequest(GptSamplingOptions Options, int BatchSize, int Length, string? Prompt);

/// <summary>
/// <c>sample</c> on a GPT checkpoint (the AR baseline that <c>train --model ar</c> writes): left-to-right decoding with the KV
/// cache until the length or each sequence's end-of-text.
/// </summary>
internal static class GptSampleRun
{
    /// <summary>Generates the sequences of <paramref name="request"/> with <paramref name="model"/>.</summary>
    /// <exception cref="ArgumentException">The prompt or length does not fit the model.</exception>
    public static (GptGenerationResult Result, TimeSpan Elapsed) Run(CliConsole console, Gpt model, GptSampleRequest request,
        CancellationToken cancellationToken)
    {
        var tokenizer = Tokenizer.FromName(model.Config.Tokenizer);
        int[] prompt = [tokenizer.Bos, .. string.IsNullOrEmpty(request.Prompt) ? [] : tokenizer.Encode(request.Prompt)];
        if (request.Length > model.Config.Length)
            throw new ArgumentException($"--length {request.Length} is longer than the model's {model.Config.Length} tokens.");
        if (prompt.Length >= request.Length)
            throw new ArgumentException($"The prompt takes {prompt.Length} tokens (with BOS), leaving none of the {request.Length} " +
                "to generate; shorten it or raise --length.");
        using var decoder = new GptDecoder(model, request.BatchSize, request.Length, prompt.Length,
            request.Options with { EndOfText = tokenizer.Eos });
        var clock = Stopwatch.StartNew();
        int[][] prompts = Enumerable.Repeat(prompt, request.BatchSize).ToArray();
        string label = string.Create(CultureInfo.InvariantCulture, $"Generating {request.BatchSize} sequence(s), left to right");
        GptGenerationResult result = ProgressBars.Counting(console, label, progress => progress is null
            ? decoder.Generate(prompts, cancellationToken)
            : GenerateShowingTokens(decoder, prompts, request.Length, progress, cancellationToken));
        return (result, clock.Elapsed);
    }

    /// <summary>
    /// Decodes like <see cref="GptDecoder.Generate"/> (the same tokens), reporting (tokens generated, tokens to generate up to
    /// <paramref name="length"/>) after every step.
    /// </summary>
    internal static GptGenerationResult GenerateShowingTokens(GptDecoder decoder, IReadOnlyList<int[]> prompts, int length,
        Action<long, long> progress, CancellationToken cancellationToken)
    {
        decoder.Start(prompts);
        int promptLength = decoder.Progress.PromptLength, tokens = length - promptLength;
        do
        {
            cancellationToken.ThrowIfCancellationRequested();
            progress(Math.Clamp(decoder.Progress.Position - promptLength, 0, tokens), tokens);
        }
        while (decoder.Step());
        progress(tokens, tokens);
        return decoder.Result();
    }

    /// <summary>The summary line after the samples.</summary>
    public static string Summary(GptGenerationResult result, TimeSpan elapsed, ulong seed, Device device, string? file)
    {
        int generated = result.Tokens.Sum(tokens => tokens.Length - result.PromptLength);
        string destination = file is null ? "" : $"; written to {file}";
        return string.Create(CultureInfo.InvariantCulture,
            $"Generated {result.Tokens.Count} sequence(s), {generated} new tokens, left to right with the KV cache, seed {seed}, on " +
            $"{device.Backend.Name()}: {result.ForwardPasses} forward passes, {elapsed.TotalSeconds:F1} s, " +
            $"{generated / Math.Max(elapsed.TotalSeconds, 1e-9):N0} tokens/s{destination}");
    }
}
