using IlgpuDiffusion.Models;
using IlgpuDiffusion.Models.Safetensors;
using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// <c>export --dtype bf16</c> writes half-size weights that <c>sample</c> and <c>info</c> read; <c>info</c> on an exported folder
/// shows its kind, sampling steps, dtype and size.
/// </summary>
public sealed class ExportInfoTests(TinyCliRun run) : IClassFixture<TinyCliRun>, IDisposable
{
    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task Export_dtype_bf16_writes_half_size_weights_that_sample_loads()
    {
        string f32 = _temp.File("f32"), bf16 = _temp.File("bf16");
        CliResult full = await CliRunner.Run("export", run.Checkpoint, "-o", f32);
        Assert.True(full.ExitCode == 0, full.ToString());
        CliResult half = await CliRunner.Run("export", run.Checkpoint, "-o", bf16, "--dtype", "bf16");
        Assert.True(half.ExitCode == 0, half.ToString());
        Assert.Contains("MiB of BF16 weights", half.Out);

        long f32Bytes = new FileInfo(Path.Combine(f32, HuggingFaceImport.WeightsFileName)).Length;
        long bf16Bytes = new FileInfo(Path.Combine(bf16, HuggingFaceImport.WeightsFileName)).Length;
        Assert.InRange(bf16Bytes, f32Bytes / 2, f32Bytes * 52 / 100);
        using (var reader = SafetensorsReader.Open(Path.Combine(bf16, HuggingFaceImport.WeightsFileName)))
            Assert.All(reader.Tensors, t => Assert.Equal(SafetensorsDtype.BF16, t.Dtype));

        CliResult sampled = await CliRunner.Run("sample", bf16, "--steps", "2", "--batch", "1", "--format", "jsonl", "--device", "cpu");
        Assert.True(sampled.ExitCode == 0, sampled.ToString());
        Assert.Single(sampled.OutLines);
    }

    [Fact]
    public async Task Info_on_an_exported_folder_shows_kind_sampling_steps_dtype_and_size()
    {
        string folder = _temp.File("hf");
        Assert.Equal(0, (await CliRunner.Run("export", run.Checkpoint, "-o", folder, "--dtype", "bf16")).ExitCode);
        CliResult info = await CliRunner.Run("info", folder);
        Assert.True(info.ExitCode == 0, info.ToString());
        Assert.Matches(@"kind\W+MDLM\W", info.Out);
        Assert.Contains("any (sample --steps, default", info.Out);
        Assert.Matches(@"dtype\W+BF16\W", info.Out);
        Assert.Matches(@"model\.safetensors, [0-9.]+ MiB", info.Out);
    }

    public void Dispose() => _temp.Dispose();
}
