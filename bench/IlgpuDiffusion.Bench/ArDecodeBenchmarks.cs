using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using IlgpuDiffusion.Benchmarking;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Sampling;

namespace IlgpuDiffusion.Bench;

/// <summary>
/// KV-cached autoregressive decoding on the SIMD CPU backend: <see cref="GptDecoder.Generate"/> of B sequences, one
/// beginning-of-text prompt token then <see cref="NewTokens"/> tokens drawn at temperature 1 (end-of-text ignored), against
/// the same GPT in TorchSharp-cpu with its own KV-cache loop (<see cref="TorchSharpGpt"/>, weights copied from ours, 2
/// threads). Models: the GPT of the latency comparison (4 layers, 256 wide, untied head, V 50258; 28.92M parameters) and
/// GPT-2 small (12 × 768, tied head, 124.44M), with GPT-2's random initialization. Columns: decoded tokens/s (B·new tokens
/// per call) and ours/torch, the ratio of tokens/s.
/// </summary>
[Config(typeof(Config))]
[MemoryDiagnoser]
public class ArDecodeBenchmarks
{
    /// <summary>Tokens decoded per sequence after the prompt token.</summary>
    public const int NewTokens = 128;

    private Device? _device;
    private Gpt? _model;
    private GptDecoder? _decoder;
    private TorchSharpGpt? _torch;
    private readonly int[][] _prompt = [[Gpt2Tokenizer.Bos]];

    /// <summary>The decoded model.</summary>
    [ParamsSource(nameof(Models))]
    public DecodeModel Model { get; set; } = null!;

    /// <summary>Sequences decoded together.</summary>
    [Params(1, 8)]
    public int Batch { get; set; }

    /// <summary>The latency comparison's GPT (matched to the Tiny DiT at L 128) and GPT-2 small.</summary>
    public static IEnumerable<DecodeModel> Models =>
    [
        new("4x256 (28.9M)", LatencyComparison.MatchedGpt(DitConfig.Tiny, 128)),
        new("GPT-2 124M", GptConfig.Gpt2),
    ];

    [GlobalSetup(Target = nameof(Decode))]
    public void Setup()
    {
        CreateModel();
        _decoder = new GptDecoder(_model!, Batch, NewTokens + 1, maxPromptLength: 1, new GptSamplingOptions { Seed = 3, EndOfText = null });
    }

    [GlobalSetup(Target = nameof(TorchSharpDecode))]
    public void SetupTorch()
    {
        CreateModel();
        _torch = new TorchSharpGpt(_model!, Batch, NewTokens + 1);
        CheckSameModel();
        _model!.Dispose();
        _model = null;
    }

    private void CreateModel()
    {
        _device = Device.Create("cpu");
        _model = new Gpt(Model.Config, _device, withGradients: false);
        _model.Initialize(1);
    }

    /// <summary>Throws unless our and TorchSharp's logits of the first next token agree (to fp32 rounding).</summary>
    private void CheckSameModel()
    {
        using var cache = _model!.CreateCache(Batch, NewTokens + 1, 1);
        var ids = _device!.Upload<int>(Enumerable.Repeat(Gpt2Tokenizer.Bos, Batch).ToArray(), new Shape(Batch));
        float[] ours = _model.ForwardCached(cache, ids, 1).ToArray();
        ids.Buffer.Dispose();
        using var torchIds = TorchSharp.torch.full(Batch, 1, Gpt2Tokenizer.Bos, TorchSharp.torch.ScalarType.Int64);
        using var logits = _torch!.NextLogits(torchIds, 0);
        float[] theirs = logits.data<float>().ToArray();
        double worst = ours.Zip(theirs, (a, b) => Math.Abs(a - b)).Max(), scale = Math.Max(1, ours.Max(Math.Abs));
        if (worst > 1e-4 * scale)
            throw new InvalidOperationException($"TorchSharp's GPT disagrees with ours: largest logit difference {worst} (scale {scale}).");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _decoder?.Dispose();
        _torch?.Dispose();
        _model?.Dispose();
        _device?.Dispose();
    }

    /// <summary>B × 128 tokens with our KV cache.</summary>
    [Benchmark(Description = Ours)]
    public int Decode() => _decoder!.Generate(_prompt).ForwardPasses;

    /// <summary>The same decoding in TorchSharp-cpu.</summary>
    [Benchmark(Description = Torch)]
    public long TorchSharpDecode() => _torch!.Generate(Gpt2Tokenizer.Bos);

    private const string Ours = "IlgpuDiffusion GptDecoder", Torch = "TorchSharp-cpu KV-cache loop";

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddJob(Job.Default.WithToolchain(new InProcessEmitToolchain(TimeSpan.FromHours(1), logOutput: true))
                .WithLaunchCount(1).WithWarmupCount(0).WithIterationCount(3).WithInvocationCount(1).WithUnrollFactor(1)
                .WithId("short-inprocess"));
            AddColumn(new CaseColumn("TokensPerSecond", "tokens/s", "Decoded tokens (B·128) per second of mean time",
                (c, ns) => ((int)c.Parameters["Batch"] * NewTokens / (ns * 1e-9)).ToString("N0")));
            AddColumn(CaseColumn.PeerRatio("OursVsTorch", "ours/torch",
                "TorchSharp's mean time over ours for the same model and batch (= our tokens/s over its)",
                (row, peer) => row.Descriptor.WorkloadMethod.Name == nameof(Decode)
                    && peer.Descriptor.WorkloadMethod.Name == nameof(TorchSharpDecode)
                    && Equals(peer.Parameters["Model"], row.Parameters["Model"])
                    && Equals(peer.Parameters["Batch"], row.Parameters["Batch"])));
            HideColumns(Column.Error, Column.Job, Column.Toolchain, Column.IterationCount, Column.LaunchCount, Column.WarmupCount,
                Column.InvocationCount, Column.UnrollFactor);
        }
    }
}

/// <summary>A GPT shape in the decoding table.</summary>
public sealed record DecodeModel(string Name, GptConfig Config)
{
    /// <summary>Shown in the table.</summary>
    public override string ToString() => Name;
}
