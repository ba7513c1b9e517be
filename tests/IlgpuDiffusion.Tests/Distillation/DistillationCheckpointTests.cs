using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Distillation;
using IlgpuDiffusion.Models.Safetensors;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Training;
using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Distillation;

[Collection(ConformanceCollection.Name)]
public sealed class DistillationCheckpointTests
{
    /// <summary>Dropout, accumulation and an optimizer reset at the round end: resuming must restore every stream and counter.</summary>
    private static readonly DistillationConfig Config = TinyDistillation.Config with
    {
        ResetOptimizerEachRound = true,
        Training = TinyDistillation.Config.Training with { GradientAccumulationSteps = 2 },
    };

    private static void AssertSameCheckpoints(string expectedPath, string actualPath)
    {
        using var expected = SafetensorsReader.Open(expectedPath);
        using var actual = SafetensorsReader.Open(actualPath);
        Assert.Equal(expected.Tensors.Select(t => t.Name), actual.Tensors.Select(t => t.Name));
        foreach (var tensor in expected.Tensors)
            Assert.True(expected.ReadFloats(tensor.Name).AsSpan().SequenceEqual(actual.ReadFloats(tensor.Name)),
                $"tensor {tensor.Name} differs");
        foreach (string key in new[] { "training_state", DistillationCheckpoint.StateKey, DistillationCheckpoint.ConfigKey })
            Assert.Equal(expected.Metadata[key], actual.Metadata[key]);
    }

    [Fact]
    public void Resuming_mid_round_continues_bit_for_bit()
    {
        using var data = new TinyTraining();
        string straightPath = data.File("straight.safetensors"), midPath = data.File("mid.safetensors"),
            resumedPath = data.File("resumed.safetensors");
        double[] straight;
        using (var distiller = TinyDistillation.Distiller(data, Config))
        {
            straight = Enumerable.Range(0, 6).Select(_ => distiller.TrainStep().Loss).ToArray();
            distiller.SaveCheckpoint(straightPath);
        }
        using (var distiller = TinyDistillation.Distiller(data, Config))
        {
            for (int i = 0; i < 4; i++) distiller.TrainStep();   // one step into round 1, after the teacher swap and optimizer reset
            distiller.SaveCheckpoint(midPath);
        }
        var (_, midState) = DistillationCheckpoint.Read(midPath);
        Assert.Equal(new DistillationState(CompletedRounds: 1, SamplingSteps: 8, AdamSteps: 1), midState);
        double[] resumed;
        using (var other = TinyTraining.NewModel(seed: 99))  // other weights: the checkpoint must overwrite student and teacher
        using (var distiller = new SdttDistiller(other, data.Train, Config))
        {
            TrainingState state = distiller.LoadCheckpoint(midPath);
            Assert.Equal(4, state.Step);
            Assert.Equal(8, state.MicroBatches);
            Assert.Equal(1, distiller.Optimizer.Steps);
            resumed = Enumerable.Range(0, 2).Select(_ => distiller.TrainStep().Loss).ToArray();
            distiller.SaveCheckpoint(resumedPath);
        }
        Assert.Equal(straight[4..], resumed);
        AssertSameCheckpoints(straightPath, resumedPath);
    }

    [Fact]
    public void A_run_writes_one_checkpoint_per_round_that_records_its_sampling_steps_and_loads_as_a_model()
    {
        using var data = new TinyTraining();
        string folder = Path.GetDirectoryName(data.File("x"))!, latest = data.File("latest.safetensors");
        var log = new StringWriter();
        using var distiller = TinyDistillation.Distiller(data);
        using (var metrics = new MetricsLog(log, data.File("metrics.jsonl")))
            distiller.Run(options: new DistillationRunOptions
            {
                Log = metrics,
                RoundCheckpointDirectory = folder,
                CheckpointPath = latest,
            });
        Assert.True(distiller.IsFinished);
        string first = Path.Combine(folder, "round-1-8-steps.safetensors"), second = Path.Combine(folder, "round-2-4-steps.safetensors");
        Assert.Equal(new DistillationState(1, 8, 3), DistillationCheckpoint.Read(first).State);
        Assert.Equal(new DistillationState(2, 4, 6), DistillationCheckpoint.Read(second).State);
        AssertSameCheckpoints(second, latest);
        using (var student = MdlmCheckpoint.LoadModel(second, distiller.Student.Device))
            Assert.Equal(distiller.Ema.Weights.ToArray(), student.Parameters.All.ToArray());
        using (var reader = SafetensorsReader.Open(first))
            Assert.Equal(5 * (5 + 2 * 10 + 5), reader.Tensors.Count);   // model, EMA, two moments, teacher

        string[] lines = log.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains(lines, l => l.StartsWith("step 3 | round 1 (Δ ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("round 1 done: student samples in 8 steps", StringComparison.Ordinal)
            && l.Contains(first, StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("round 2 done: student samples in 4 steps", StringComparison.Ordinal));
        string[] json = File.ReadAllLines(data.File("metrics.jsonl"));
        Assert.Equal(2, json.Count(l => l.Contains("\"kind\":\"round\"", StringComparison.Ordinal)));
        Assert.Contains(json, l => l.StartsWith("{\"kind\":\"distill\",\"step\":6,\"round\":2,\"delta\":", StringComparison.Ordinal));
    }

    [Fact]
    public void Checkpoints_of_other_runs_are_refused_with_messages_that_say_what_differs()
    {
        using var data = new TinyTraining();
        string path = data.File("distill.safetensors"), mdlm = data.File("mdlm.safetensors");
        using (var distiller = TinyDistillation.Distiller(data))
        {
            distiller.TrainStep();
            distiller.SaveCheckpoint(path);
        }
        using (var model = TinyTraining.NewModel())
        using (var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config))
            trainer.SaveCheckpoint(mdlm);

        string Load(string file, DistillationConfig config)
        {
            using var distiller = TinyDistillation.Distiller(data, config);
            return Assert.Throws<InvalidDataException>(() => distiller.LoadCheckpoint(file)).Message;
        }
        Assert.Contains("TeacherSteps: this run 3, checkpoint 2", Load(path, TinyDistillation.Config with { TeacherSteps = 3 }));
        Assert.Contains("CompatReleasedCode: this run True, checkpoint False",
            Load(path, TinyDistillation.Config with { CompatReleasedCode = true }));
        Assert.Contains("Seed: this run 8, checkpoint 7",
            Load(path, TinyDistillation.Config with { Training = TinyDistillation.Config.Training with { Seed = 8 } }));
        Assert.Contains("not a distillation checkpoint", Load(mdlm, TinyDistillation.Config));
    }
}
