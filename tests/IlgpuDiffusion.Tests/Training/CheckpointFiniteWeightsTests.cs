using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Tests.Data;
using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Training;

/// <summary>
/// A checkpoint holding a weight that is not a finite number (NaN EMA weights, an infinite Adam moment) is refused on load,
/// naming the file and the tensor, instead of sampling garbage or failing later in a kernel.
/// </summary>
public sealed class CheckpointFiniteWeightsTests : IDisposable
{
    private const string Tensor = "blocks.0.attn_qkv.weight";

    private readonly TempDirectory _folder = new();
    private readonly Device _device = Device.Create("cpu");

    /// <summary>Saves a checkpoint whose raw weights are finite and whose <paramref name="group"/> holds <paramref name="bad"/>.</summary>
    private string Checkpoint(string group, float bad)
    {
        var config = TinyModels.RandomDit();
        using var model = new Dit(config, _device, withGradients: false);
        model.Initialize(1);
        long length = model.Parameters.All.Length;
        var groups = new Dictionary<string, Tensor<float>>
        {
            [CheckpointTensors.EmaPrefix] = _device.AllocateTensor<float>(new Shape((int)length)),
            [CheckpointTensors.FirstMomentPrefix] = _device.AllocateTensor<float>(new Shape((int)length)),
            [CheckpointTensors.SecondMomentPrefix] = _device.AllocateTensor<float>(new Shape((int)length)),
        };
        groups[group].Buffer.CopyFromHost(groups[group].Offset + model.Parameters[Tensor].Offset + 3, [bad]);
        string path = _folder.File($"{group}checkpoint.safetensors");
        var header = new MdlmCheckpointHeader(config, TrainingConfig.Mdlm, new TrainingState(1, 1, 1, default, 1));
        MdlmCheckpoint.Save(path, header, model.Parameters, groups[CheckpointTensors.EmaPrefix],
            groups[CheckpointTensors.FirstMomentPrefix], groups[CheckpointTensors.SecondMomentPrefix]);
        foreach (var tensor in groups.Values) tensor.Buffer.Dispose();
        return path;
    }

    [Fact]
    public void Nan_ema_weights_are_refused_when_sampling_naming_the_file_and_tensor()
    {
        string path = Checkpoint(CheckpointTensors.EmaPrefix, float.NaN);
        string message = Assert.Throws<InvalidDataException>(() => MdlmCheckpoint.LoadModel(path, _device).Dispose()).Message;
        Assert.Contains(path, message);
        Assert.Contains($"'ema.{Tensor}'", message);
        Assert.Contains("element 3", message);
        MdlmCheckpoint.LoadModel(path, _device, useEma: false).Dispose(); // the raw weights are fine
    }

    [Fact]
    public void An_infinite_optimizer_moment_is_refused_when_resuming_naming_the_file_and_tensor_before_anything_is_read()
    {
        string path = Checkpoint(CheckpointTensors.SecondMomentPrefix, float.PositiveInfinity);
        using var model = new Dit(TinyModels.RandomDit(), _device, withGradients: false);
        model.Parameters.Fill(0.25f);
        var run = Enumerable.Range(0, 3).Select(_ => _device.AllocateTensor<float>(new Shape((int)model.Parameters.All.Length))).ToArray();
        string message = Assert.Throws<InvalidDataException>(() =>
            MdlmCheckpoint.Load(path, model.Config, TrainingConfig.Mdlm, model.Parameters, run[0], run[1], run[2])).Message;
        Assert.Contains(path, message);
        Assert.Contains($"'adam_v.{Tensor}'", message);
        Assert.All(model.Parameters.All.ToArray(), value => Assert.Equal(0.25f, value)); // the run's weights are untouched
        foreach (var tensor in run) tensor.Buffer.Dispose();
    }

    public void Dispose()
    {
        _device.Dispose();
        _folder.Dispose();
    }
}
