using System.Diagnostics;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion.Benchmarking;

/// <summary>
/// The SDTT paper's latency comparison (docs/algorithms.md §5.7): wall time to generate B sequences of L tokens from scratch with the
/// diffusion sampler (<see cref="DiffusionSampler"/>, from all MASK) at each step count N, cached and uncached, against
/// an autoregressive model decoding with its KV cache (<see cref="GptDecoder"/>, from one beginning-of-text token, end-of-text
/// ignored so that every sequence runs to L new tokens), on the same device. Costs do not depend on the weights, so untrained
/// models measure the same time as trained ones. Each generator is warmed up, then timed, then, if asked, run once more under a
/// <see cref="KernelProfile"/>; nothing is allocated per step.
/// </summary>
public static class LatencyComparison
{
    /// <summary>
    /// The GPT whose parameter count matches <paramref name="diffusion"/>: the same layers, width, heads, tokenizer and vocabulary,
    /// GPT-2 layout (learned positions) with an untied head as the DiT's output layer is. It lacks only the DiT's
    /// adaLN conditioning (6·D·C + 6·D per block, 2·D·C + 2·D at the end, and the σ map), weights that cost a per-pass
    /// vector, not per-token work. Its length is <paramref name="length"/> + 1: the prompt token and L new tokens.
    /// </summary>
    public static GptConfig MatchedGpt(DitConfig diffusion, int length)
    {
        ArgumentNullException.ThrowIfNull(diffusion);
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        return new GptConfig
        {
            Layers = diffusion.Layers,
            Hidden = diffusion.Hidden,
            Heads = diffusion.Heads,
            Vocab = diffusion.Vocab,
            Tokenizer = diffusion.Tokenizer,
            Length = length + 1,
            Positions = GptPositions.Learned,
            TiedHead = false,
        }.Validate();
    }

    /// <summary>
    /// Times <paramref name="autoregressive"/> and then <paramref name="diffusion"/> at every step count of
    /// <paramref name="options"/>, reporting each row to <paramref name="measured"/> as soon as it is done.
    /// </summary>
    /// <param name="cancellationToken">Stops the comparison between sampling steps.</param>
    /// <exception cref="ArgumentException">The models live on different devices, or the length does not fit one of them.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="InvalidOperationException">
    /// <see cref="LatencyOptions.Profile"/> is set while another profile of the device runs.
    /// </exception>
    public static LatencyReport Run(Dit diffusion, Gpt autoregressive, LatencyOptions options, Action<LatencyMeasurement>? measured = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(diffusion);
        ArgumentNullException.ThrowIfNull(autoregressive);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (diffusion.Device != autoregressive.Device)
            throw new ArgumentException("Compare the models on the same device: load both through one Device.", nameof(autoregressive));
        if (options.Length > diffusion.Config.Length)
            throw new ArgumentException($"The diffusion model generates at most {diffusion.Config.Length} tokens; " +
                $"asked for {options.Length}. Use a config with Length ≥ {options.Length}.", nameof(options));
        if (options.Length + 1 > autoregressive.Config.Length)
            throw new ArgumentException($"The autoregressive model holds {autoregressive.Config.Length} positions; " +
                $"a prompt token and {options.Length} new tokens need {options.Length + 1}. " +
                "Use LatencyComparison.MatchedGpt.", nameof(options));

        var rows = new List<LatencyMeasurement>();
        void Add(LatencyMeasurement row)
        {
            rows.Add(row);
            measured?.Invoke(row);
        }

        Add(TimeAutoregressive(autoregressive, options, cancellationToken));
        foreach (int steps in options.Steps)
        {
            Add(TimeDiffusion(diffusion, options, steps, cached: true, cancellationToken));
            if (options.IncludeUncached) Add(TimeDiffusion(diffusion, options, steps, cached: false, cancellationToken));
        }
        return new LatencyReport(diffusion.Device.Description, diffusion.Config.ParameterCount(), autoregressive.Config.ParameterCount(),
            options.BatchSize, options.Length, rows);
    }

    /// <summary>B sequences of L tokens by <see cref="GptDecoder.Generate"/> after a beginning-of-text prompt.</summary>
    private static LatencyMeasurement TimeAutoregressive(Gpt model, LatencyOptions options, CancellationToken cancellationToken)
    {
        int bos = Math.Min(Tokenizer.FromName(model.Config.Tokenizer).Bos, model.Config.Vocab - 1);
        int[][] prompt = [[bos]];
        var sampling = new GptSamplingOptions { Seed = options.Seed, EndOfText = null };
        using var decoder = new GptDecoder(model, options.BatchSize, options.Length + 1, maxPromptLength: 1, sampling);
        var (mean, fastest, passes) = Time(options, () => decoder.Generate(prompt, cancellationToken).ForwardPasses);
        return new LatencyMeasurement(LatencyMeasurement.Autoregressive, null, null, mean, fastest, passes,
            options.BatchSize * options.Length)
        {
            Profile = Profiled(options, model.Device, () => decoder.Generate(prompt, cancellationToken)),
        };
    }

    /// <summary>B sequences of L tokens by <see cref="DiffusionSampler.Sample"/> from all MASK in <paramref name="steps"/> steps.</summary>
    private static LatencyMeasurement TimeDiffusion(Dit model, LatencyOptions options, int steps, bool cached,
        CancellationToken cancellationToken)
    {
        var sampling = new SamplerOptions { Steps = steps, BatchSize = options.BatchSize, Cached = cached, Seed = options.Seed };
        using var sampler = new DiffusionSampler(model, sampling, options.Length);
        var (mean, fastest, passes) = Time(options, () => sampler.Sample(cancellationToken: cancellationToken).ForwardPasses);
        return new LatencyMeasurement(LatencyMeasurement.Diffusion, steps, sampler.UsesCache, mean, fastest, passes,
            options.BatchSize * options.Length)
        {
            Profile = Profiled(options, model.Device, () => sampler.Sample(cancellationToken: cancellationToken)),
        };
    }

    /// <summary>One more run of <paramref name="generate"/> under a profile of <paramref name="device"/>, if the options ask.</summary>
    private static KernelProfile? Profiled(LatencyOptions options, Device device, Action generate)
    {
        if (!options.Profile) return null;
        using KernelProfile profile = device.StartProfile();
        generate();
        return profile;
    }

    /// <summary>Warm-up runs, then the mean and fastest of the timed runs, and the passes of the last one.</summary>
    private static (TimeSpan Mean, TimeSpan Fastest, int Passes) Time(LatencyOptions options, Func<int> generate)
    {
        for (int i = 0; i < options.WarmupRuns; i++) generate();
        TimeSpan total = TimeSpan.Zero, fastest = TimeSpan.MaxValue;
        int passes = 0;
        for (int i = 0; i < options.TimedRuns; i++)
        {
            long start = Stopwatch.GetTimestamp();
            passes = generate();
            TimeSpan elapsed = Stopwatch.GetElapsedTime(start);
            total += elapsed;
            if (elapsed < fastest) fastest = elapsed;
        }
        return (total / options.TimedRuns, fastest, passes);
    }
}
