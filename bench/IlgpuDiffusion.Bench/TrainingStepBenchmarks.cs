using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Bench;

/// <summary>
/// One MDLM training step (<see cref="MdlmTrainer.TrainStep"/>: batch → times → masks → forward with the head
/// on the masked rows → SUBS cross-entropy → backward → clip → AdamW → EMA) on the SIMD CPU backend, batch 8 ×
/// L 256, GPT-2 vocabulary (50258), dropout 0.1, for the Tiny preset (4 layers, 256 wide) and a 6-layer
/// 512-wide model. Columns: tokens/s (B·L per step), MFU against the machine's measured 410 GFLOP/s fp32 peak
/// (<see cref="DitConfig.TrainingFlopsPerToken"/>), and the process's peak resident memory during the case; MemoryDiagnoser's
/// "Allocated" is the managed bytes one step allocates (target 0). Random token ids: throughput does not depend
/// on the data. The peer is the same DiT and step in TorchSharp-cpu (<see cref="TorchSharpDit"/>, libtorch with
/// 2 threads, fp32, torch.optim.AdamW, clip_grad_norm_, EMA with the same decay), fed the same corrupted batches;
/// "ours/torch" is the ratio of tokens/s.
/// </summary>
[Config(typeof(Config))]
[MemoryDiagnoser]
public class TrainingStepBenchmarks
{
    /// <summary>Sequences per step and ids per sequence.</summary>
    public const int Batch = 8, Tokens = 256;

    /// <summary>Measured fp32 FMA peak of the reference machine (2 cores, AVX-512), FLOP/s.</summary>
    public const double PeakFlops = 410e9;

    private static readonly Dictionary<(string Model, bool Torch), long> PeakResidentBytes = [];

    private string _folder = null!;
    private TokenShardSet _data = null!;
    private Device? _device;
    private Dit? _model;
    private MdlmTrainer? _trainer;
    private TorchSharpTrainingStep? _torch;

    /// <summary>The model being trained.</summary>
    [ParamsSource(nameof(Models))]
    public TrainingModel Model { get; set; } = null!;

    /// <summary>Tiny (4 × 256, 4 heads) and 6 × 512 (8 heads), both at L 256 with the GPT-2 vocabulary.</summary>
    public static IEnumerable<TrainingModel> Models =>
    [
        new("Tiny 4x256", DitConfig.Tiny with { Length = Tokens }),
        new("6x512", new DitConfig { Layers = 6, Hidden = 512, Heads = 8, Length = Tokens }),
    ];

    [GlobalSetup(Target = nameof(TrainStep))]
    public void Setup()
    {
        WriteData();
        _device = Device.Create("cpu");
        _model = new Dit(Model.Config, _device);
        _model.Initialize(1);
        _trainer = new MdlmTrainer(_model, _data, TrainingConfig.Mdlm with { BatchSize = Batch, WarmupSteps = 10 });
    }

    [GlobalSetup(Target = nameof(TorchSharpTrainStep))]
    public void SetupTorch()
    {
        WriteData();
        _torch = new TorchSharpTrainingStep(Model.Config, _data, Batch);
    }

    private void WriteData()
    {
        ResetPeakResidentMemory();
        _folder = Path.Combine(Path.GetTempPath(), $"ilgpudiffusion-bench-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_folder);
        string shard = Path.Combine(_folder, "train.tokens");
        var random = new Random(1);
        using (var writer = new TokenShardWriter(shard, Tokens))
        {
            var sequence = new int[Tokens];
            for (int s = 0; s < 64; s++)
            {
                for (int i = 0; i < Tokens; i++) sequence[i] = random.Next(Gpt2Tokenizer.VocabularySize);
                writer.Write(sequence);
            }
            writer.Commit();
        }
        _data = TokenShardSet.Open([shard], Tokens, Gpt2Tokenizer.Shared);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        PeakResidentBytes[(Model.Name, _torch is not null)] = ReadPeakResidentBytes();
        _trainer?.Dispose();
        _model?.Dispose();
        _device?.Dispose();
        _torch?.Dispose();
        _data.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>One optimizer step of B·L = 2048 token slots.</summary>
    [Benchmark(Description = Ours)]
    public double TrainStep() => _trainer!.TrainStep().Loss;

    /// <summary>The same step in TorchSharp-cpu.</summary>
    [Benchmark(Description = Torch)]
    public double TorchSharpTrainStep() => _torch!.Step();

    private const string Ours = "IlgpuDiffusion MdlmTrainer.TrainStep", Torch = "TorchSharp-cpu DiT step";

    /// <summary>
    /// Lets the kernel restart the peak-RSS count (Linux: <c>/proc/self/clear_refs</c> ← 5) after collecting the last case's garbage.
    /// </summary>
    private static void ResetPeakResidentMemory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Not Linux: the column then shows the process peak so far.
        }
    }

    /// <summary>VmHWM from <c>/proc/self/status</c>, else the process's peak working set.</summary>
    private static long ReadPeakResidentBytes()
    {
        const string key = "VmHWM:";
        if (File.Exists("/proc/self/status"))
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith(key, StringComparison.Ordinal))
                    return long.Parse(line[key.Length..].Trim().Split(' ')[0]) * 1024;
        return Environment.WorkingSet;
    }

    private sealed class Config : ManualConfig
    {
        public Config()
        {
            // In process: the steps take seconds, and a generated child project would cost a slow rebuild.
            AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance)
                .WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(6).WithInvocationCount(1).WithUnrollFactor(1)
                .WithId("short-inprocess"));
            AddColumn(TrainingColumn("TokensPerSecond", "tokens/s", "B·L token slots per second of mean step time",
                (model, ns, _) => (Batch * Tokens / (ns * 1e-9)).ToString("N0")));
            AddColumn(TrainingColumn("Mfu", "MFU", "Model FLOP/s (DitConfig.TrainingFlopsPerToken) over the measured 410 GFLOP/s peak",
                (model, ns, _) => $"{model.Config.TrainingFlopsPerToken(Tokens) * Batch * Tokens / (ns * 1e-9) / PeakFlops * 100:F1}%"));
            AddColumn(TrainingColumn("PeakRss", "peak RSS", "Peak resident memory of the process during the case (VmHWM)",
                (model, _, torch) => PeakResidentBytes.TryGetValue((model.Name, torch), out long bytes)
                    ? $"{bytes / (1024.0 * 1024):N0} MiB"
                    : "-"));
            AddColumn(TrainingColumn("Parameters", "params", "Trainable parameters (DitConfig.ParameterCount)",
                (model, _, _) => $"{model.Config.ParameterCount() / 1e6:F1}M"));
            AddColumn(CaseColumn.PeerRatio("OursVsTorch", "ours/torch",
                "TorchSharp's mean step time over ours on the same model (= our tokens/s over its)",
                (row, peer) => row.Descriptor.WorkloadMethod.Name == nameof(TrainStep)
                    && peer.Descriptor.WorkloadMethod.Name == nameof(TorchSharpTrainStep)
                    && Equals(peer.Parameters["Model"], row.Parameters["Model"])));
            HideColumns(Column.Error, Column.Job, Column.Toolchain, Column.IterationCount, Column.LaunchCount, Column.WarmupCount,
                Column.InvocationCount, Column.UnrollFactor);
        }
    }

    /// <summary>A column computed from a case's model, mean step time in nanoseconds and whether it is the TorchSharp case.</summary>
    private static CaseColumn TrainingColumn(string id, string header, string legend, Func<TrainingModel, double, bool, string> value) =>
        new(id, header, legend, (benchmarkCase, nanoseconds) => value((TrainingModel)benchmarkCase.Parameters["Model"], nanoseconds,
            benchmarkCase.Descriptor.WorkloadMethod.Name == nameof(TorchSharpTrainStep)));
}

/// <summary>A model shape in the benchmark table.</summary>
public sealed record TrainingModel(string Name, DitConfig Config)
{
    /// <summary>Shown in the table.</summary>
    public override string ToString() => Name;
}
