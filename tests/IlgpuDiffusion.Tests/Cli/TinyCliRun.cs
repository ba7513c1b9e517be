using IlgpuDiffusion.Tests.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Cli;

/// <summary>
/// A prepared tiny corpus (L 32, a validation split) and a one-step checkpoint of the CLI's tiny model trained on it, made once
/// for the tests of a class that need real inputs for <c>train</c>, <c>sample</c>, <c>distill</c> and <c>eval</c>.
/// </summary>
public sealed class TinyCliRun : IAsyncLifetime
{
    /// <summary>The model options of the CLI's tiny model (<see cref="TinyModels.CliDit"/>'s shape).</summary>
    public static readonly string[] Model = ["--layers", "1", "--hidden", "32", "--heads", "2", "--cond-dim", "16"];

    private readonly TempDirectory _temp = new();

    /// <summary>The prepared shards.</summary>
    public string Shards => _temp.File("shards");

    /// <summary>The trained checkpoint (step 1).</summary>
    public string Checkpoint => _temp.File("tiny.safetensors");

    public async Task InitializeAsync()
    {
        TinyCorpus.Write(_temp.File("corpus"));
        CliResult prepare = await CliRunner.Run("prepare", _temp.File("corpus"), "-o", Shards, "--length", "32",
            "--validation-fraction", "0.25", "--seed", "3");
        Assert.True(prepare.ExitCode == 0, prepare.ToString());
        CliResult train = await CliRunner.Run(["train", "--data", Shards, .. Model, "--steps", "1", "--batch", "4",
            "--validation-batches", "1", "--device", "cpu", "-o", Checkpoint]);
        Assert.True(train.ExitCode == 0, train.ToString());
    }

    public Task DisposeAsync()
    {
        _temp.Dispose();
        return Task.CompletedTask;
    }
}
