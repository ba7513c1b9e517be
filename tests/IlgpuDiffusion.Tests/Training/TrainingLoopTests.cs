using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Distillation;
using IlgpuDiffusion.Models.Safetensors;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Tests.Distillation;
using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Training;

/// <summary>
/// The loop every trainer shares: progress after every step, cancellation that keeps the run, and the distiller's log on
/// the same loop (MFU included).
/// </summary>
[Collection(ConformanceCollection.Name)]
public sealed class TrainingLoopTests
{
    /// <summary>Receives reports synchronously (unlike <see cref="Progress{T}"/>, which posts them to the thread pool).</summary>
    private sealed class Recorder(Action<TrainingProgress>? onReport = null) : IProgress<TrainingProgress>
    {
        public List<TrainingProgress> Reports { get; } = [];

        public void Report(TrainingProgress value)
        {
            Reports.Add(value);
            onReport?.Invoke(value);
        }
    }

    [Fact]
    public void Progress_arrives_after_every_step_with_the_latest_interval_loss()
    {
        using var data = new TinyTraining();
        using var model = TinyTraining.NewModel();
        using var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config);
        trainer.Run(3);
        var recorder = new Recorder();
        trainer.Run(12, new MdlmTrainingRunOptions { Progress = recorder });

        Assert.Equal(Enumerable.Range(4, 9).Select(s => (long)s), recorder.Reports.Select(r => r.Step));
        Assert.All(recorder.Reports, r => Assert.Equal((3L, 12L, "Training"), (r.FirstStep, r.LastStep, r.Stage)));
        Assert.True(double.IsNaN(recorder.Reports[0].Loss));          // no log line yet: the first interval ends at step 5
        Assert.All(recorder.Reports.Skip(1), r => Assert.True(r.Loss > 0 && r.TokensPerSecond > 0));
        Assert.Equal(recorder.Reports[1].Loss, recorder.Reports[5].Loss); // steps 5..9 report the interval ending at 5
        Assert.NotEqual(recorder.Reports[6].Loss, recorder.Reports[5].Loss);
    }

    [Fact]
    public void A_cancelled_run_stops_between_steps_after_writing_its_checkpoint_and_resumes_bit_for_bit()
    {
        using var data = new TinyTraining();
        string straightPath = data.File("straight.safetensors"), cancelledPath = data.File("cancelled.safetensors"),
            resumedPath = data.File("resumed.safetensors");
        using (var model = TinyTraining.NewModel())
        using (var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config))
            trainer.Run(9, new MdlmTrainingRunOptions { CheckpointPath = straightPath });

        using var cancellation = new CancellationTokenSource();
        using (var model = TinyTraining.NewModel())
        using (var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config))
        {
            var recorder = new Recorder(report =>
            {
                if (report.Step == 4) cancellation.Cancel();
            });
            Assert.Throws<OperationCanceledException>(() => trainer.Run(9,
                new MdlmTrainingRunOptions { CheckpointPath = cancelledPath, CheckpointInterval = 100, Progress = recorder },
                cancellation.Token));
            Assert.Equal(4, trainer.Step);
            Assert.Equal(4, recorder.Reports.Count);
        }
        Assert.False(File.Exists(cancelledPath)); // the run checkpoint is the end's; a cancelled run leaves a step-numbered one
        string stepFour = data.File("cancelled.step-000004.safetensors");
        Assert.Equal(4, MdlmCheckpoint.ReadHeader(stepFour).State.Step);
        Assert.Equal(stepFour, StepCheckpoints.Latest(cancelledPath));

        using (var model = TinyTraining.NewModel(seed: 99))
        using (var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config))
        {
            trainer.LoadCheckpoint(stepFour);
            trainer.Run(9, new MdlmTrainingRunOptions { CheckpointPath = resumedPath });
        }
        using var straight = SafetensorsReader.Open(straightPath);
        using var resumed = SafetensorsReader.Open(resumedPath);
        foreach (var tensor in straight.Tensors)
            Assert.True(straight.ReadFloats(tensor.Name).AsSpan().SequenceEqual(resumed.ReadFloats(tensor.Name)), tensor.Name);
        Assert.Equal(straight.Metadata["training_state"], resumed.Metadata["training_state"]);
    }

    [Fact]
    public void Periodic_checkpoints_are_step_numbered_files_of_which_the_newest_few_are_kept_and_later_ones_of_a_replaced_run_go()
    {
        using var data = new TinyTraining();
        string path = data.File("run.safetensors");
        string Numbered(int step) => data.File($"run.step-{step:D6}.safetensors");
        using var model = TinyTraining.NewModel();
        using (var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config))
            trainer.Run(5, new MdlmTrainingRunOptions { CheckpointPath = path, CheckpointInterval = 1 });
        Assert.Equal([false, false, true, true, false], Enumerable.Range(1, 5).Select(s => File.Exists(Numbered(s))));
        Assert.Equal(3, MdlmCheckpoint.ReadHeader(Numbered(3)).State.Step);
        Assert.Equal(5, MdlmCheckpoint.ReadHeader(path).State.Step); // the end's checkpoint is the run file itself

        // A new run of the same file replaces the old run's later step-numbered checkpoints; 0 keeps all of its own.
        using (var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config))
            trainer.Run(3, new MdlmTrainingRunOptions { CheckpointPath = path, CheckpointInterval = 1, KeepCheckpoints = 0 });
        Assert.Equal([true, true, false, false, false], Enumerable.Range(1, 5).Select(s => File.Exists(Numbered(s))));
        Assert.Equal(path, StepCheckpoints.Latest(path));
    }

    [Fact]
    public void A_run_cancelled_before_its_first_step_writes_nothing()
    {
        using var data = new TinyTraining();
        string path = data.File("never.safetensors");
        using var model = TinyTraining.NewModel();
        using var trainer = new MdlmTrainer(model, data.Train, TinyTraining.Config);
        Assert.Throws<OperationCanceledException>(() =>
            trainer.Run(5, new MdlmTrainingRunOptions { CheckpointPath = path }, new CancellationToken(canceled: true)));
        Assert.Equal(0, trainer.Step);
        Assert.False(File.Exists(path));
    }

    [Fact]
    public void Distillation_runs_on_the_shared_loop_with_rounds_in_its_progress_and_MFU_in_its_log()
    {
        using var data = new TinyTraining();
        var config = TinyDistillation.Config with
        {
            Training = TinyDistillation.Config.Training with { LogInterval = 2, PeakFlops = 1e12 },
        };
        using var distiller = TinyDistillation.Distiller(data, config);
        var recorder = new Recorder();
        var human = new StringWriter();
        using (var log = new MetricsLog(human, data.File("distill.jsonl")))
            distiller.Run(options: new DistillationRunOptions { Log = log, Progress = recorder });

        Assert.Equal(["Round 1/2", "Round 1/2", "Round 1/2", "Round 2/2", "Round 2/2", "Round 2/2"],
            recorder.Reports.Select(r => r.Stage));
        string[] json = File.ReadAllLines(data.File("distill.jsonl"));
        // Intervals end every 2 steps and at each round's end (step 3); each round's end is logged after its interval.
        Assert.Equal(["distill:2", "distill:3", "round:3", "distill:4", "distill:6", "round:6"],
            json.Select(line => $"{Field(line, "kind")}:{Field(line, "step")}"));
        Assert.All(json.Where(line => line.Contains("\"kind\":\"distill\"", StringComparison.Ordinal)),
            line => Assert.True(double.Parse(Field(line, "mfu"), System.Globalization.CultureInfo.InvariantCulture) > 0, line));
        Assert.Contains("| MFU ", human.ToString(), StringComparison.Ordinal);
    }

    private static string Field(string jsonLine, string name)
    {
        using var document = System.Text.Json.JsonDocument.Parse(jsonLine);
        var value = document.RootElement.GetProperty(name);
        return value.ValueKind == System.Text.Json.JsonValueKind.String ? value.GetString()! : value.GetRawText();
    }
}
