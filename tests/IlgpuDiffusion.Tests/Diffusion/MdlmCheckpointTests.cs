using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Models.Safetensors;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Training;
using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Diffusion;

[Collection(ConformanceCollection.Name)]
public sealed class CheckpointTests
{
    /// <summary>Accumulation and dropout on, so that resuming must restore data order, times, masks and dropout streams.</summary>
    private static readonly TrainingConfig Config = TinyTraining.Config with { GradientAccumulationSteps = 2 };

    private static void AssertSameTensors(string expectedPath, string actualPath)
    {
        using var expected = SafetensorsReader.Open(expectedPath);
        using var actual = SafetensorsReader.Open(actualPath);
        Assert.Equal(expected.Tensors.Select(t => t.Name), actual.Tensors.Select(t => t.Name));
        foreach (var tensor in expected.Tensors)
            Assert.True(expected.ReadFloats(tensor.Name).AsSpan().SequenceEqual(actual.ReadFloats(tensor.Name)),
                $"tensor {tensor.Name} differs");
        Assert.Equal(expected.Metadata["training_state"], actual.Metadata["training_state"]);
    }

    [Fact]
    public void Resuming_from_a_checkpoint_continues_bit_for_bit()
    {
        using var data = new TinyTraining();
        string straightPath = data.File("straight.safetensors"), halfPath = data.File("half.safetensors"),
            resumedPath = data.File("resumed.safetensors");
        double[] straightLosses;
        using (var model = TinyTraining.NewModel())
        using (var trainer = new MdlmTrainer(model, data.Train, Config))
        {
            straightLosses = Enumerable.Range(0, 8).Select(_ => trainer.TrainStep().Loss).ToArray();
            trainer.SaveCheckpoint(straightPath);
        }
        using (var model = TinyTraining.NewModel())
        using (var trainer = new MdlmTrainer(model, data.Train, Config))
        {
            for (int i = 0; i < 4; i++) trainer.TrainStep();
            trainer.SaveCheckpoint(halfPath);
        }
        double[] resumedLosses;
        using (var model = TinyTraining.NewModel(seed: 99))   // other weights: the checkpoint must overwrite all of them
        using (var trainer = new MdlmTrainer(model, data.Train, Config))
        {
            TrainingState state = trainer.LoadCheckpoint(halfPath);
            Assert.Equal(4, state.Step);
            Assert.Equal(8, state.MicroBatches);
            Assert.Equal(4, trainer.Step);
            resumedLosses = Enumerable.Range(0, 4).Select(_ => trainer.TrainStep().Loss).ToArray();
            trainer.SaveCheckpoint(resumedPath);
        }
        Assert.Equal(straightLosses[4..], resumedLosses);
        AssertSameTensors(straightPath, resumedPath);
    }

    [Fact]
    public void A_checkpoint_round_trips_weights_ema_moments_state_and_configs()
    {
        using var data = new TinyTraining();
        string first = data.File("first.safetensors"), second = data.File("second.safetensors");
        TrainingState saved;
        using (var model = TinyTraining.NewModel())
        using (var trainer = new MdlmTrainer(model, data.Train, Config))
        {
            for (int i = 0; i < 3; i++) trainer.TrainStep();
            saved = trainer.State;
            trainer.SaveCheckpoint(first);
        }
        MdlmCheckpointHeader header = MdlmCheckpoint.ReadHeader(first);
        Assert.Equal(TinyModels.TrainingDit, header.Model);
        Assert.Equal(Config, header.Training);
        Assert.Equal(saved, header.State);
        Assert.Equal(3, header.State.EmaUpdates);
        using (var model = TinyTraining.NewModel(seed: 5))
        using (var trainer = new MdlmTrainer(model, data.Train, Config))
        {
            Assert.Equal(saved, trainer.LoadCheckpoint(first));
            Assert.Equal(saved, trainer.State);
            trainer.SaveCheckpoint(second);
        }
        AssertSameTensors(first, second);
        using (var reader = SafetensorsReader.Open(first))
        {
            int parameters = reader.Tensors.Count(t => t.Name.StartsWith(CheckpointTensors.ModelPrefix, StringComparison.Ordinal));
            Assert.Equal(5 + 2 * 10 + 5, parameters);   // embedding and sigma map, 2 blocks, final layer
            Assert.Equal(4 * parameters, reader.Tensors.Count);
        }
        Assert.Empty(Directory.EnumerateFiles(Path.GetDirectoryName(first)!, "*.tmp"));
    }

    [Fact]
    public void A_model_loads_from_a_checkpoint_with_its_ema_or_raw_weights()
    {
        using var data = new TinyTraining();
        string path = data.File("model.safetensors");
        float[] raw, ema;
        using (var model = TinyTraining.NewModel())
        using (var trainer = new MdlmTrainer(model, data.Train, Config))
        {
            for (int i = 0; i < 3; i++) trainer.TrainStep();
            trainer.SaveCheckpoint(path);
            raw = model.Parameters.All.ToArray();
            ema = trainer.Ema.Weights.ToArray();
        }
        Assert.False(raw.AsSpan().SequenceEqual(ema));
        var device = TinyModels.Cpu;
        using (var fromEma = MdlmCheckpoint.LoadModel(path, device))
        {
            Assert.Equal(TinyModels.TrainingDit, fromEma.Config);
            Assert.Null(fromEma.Gradients);
            Assert.Equal(ema, fromEma.Parameters.All.ToArray());
        }
        using (var fromRaw = MdlmCheckpoint.LoadModel(path, device, useEma: false, withGradients: true))
        {
            Assert.NotNull(fromRaw.Gradients);
            Assert.Equal(raw, fromRaw.Parameters.All.ToArray());
        }
        var error = Assert.Throws<FileNotFoundException>(() => MdlmCheckpoint.LoadModel(data.File("missing.safetensors"), device));
        Assert.Contains("missing.safetensors", error.Message);
    }

    [Fact]
    public void Damaged_or_foreign_checkpoints_fail_with_messages_that_say_what_is_wrong()
    {
        using var data = new TinyTraining();
        string path = data.File("good.safetensors");
        using (var model = TinyTraining.NewModel())
        using (var trainer = new MdlmTrainer(model, data.Train, Config))
        {
            trainer.TrainStep();
            trainer.SaveCheckpoint(path);
        }
        byte[] bytes = File.ReadAllBytes(path);
        string truncated = data.File("truncated.safetensors");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length - 100)]);
        string foreign = data.File("foreign.safetensors");
        var writer = new SafetensorsWriter();
        writer.Add("vocab_embed.embedding", new float[4], 2, 2);
        writer.Write(foreign);

        using var fresh = TinyTraining.NewModel();
        string Load(string file, DitConfig? model = null, TrainingConfig? training = null)
        {
            using var other = model is null ? null : new Dit(model, fresh.Device);
            using var trainer = new MdlmTrainer(other ?? fresh, data.Train, training ?? Config);
            return Assert.Throws<InvalidDataException>(() => trainer.LoadCheckpoint(file)).Message;
        }
        Assert.Contains("truncated", Load(truncated));
        Assert.Contains("not an IlgpuDiffusion training checkpoint", Load(foreign));
        string otherModel = Load(path, TinyModels.TrainingDit with { Hidden = 48 });
        Assert.Contains("another model", otherModel);
        Assert.Contains("Hidden: this run 48, checkpoint 32", otherModel);
        string otherSeed = Load(path, training: Config with { Seed = 8 });
        Assert.Contains("Seed: this run 8, checkpoint 7", otherSeed);
        Assert.Throws<FileNotFoundException>(() => MdlmCheckpoint.ReadHeader(data.File("missing.safetensors")));
    }
}
