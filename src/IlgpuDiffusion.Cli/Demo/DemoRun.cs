using System.Diagnostics;
using System.Globalization;
using IlgpuDiffusion.Cli.Options;
using IlgpuDiffusion.Cli.Runs;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Cli.Demo;

/// <summary>What <c>demo</c> was asked to do.</summary>
/// <param name="Preset">The sizes of the run.</param>
/// <param name="Output">The output folder.</param>
/// <param name="Data">A folder of prepared shards at the preset's length, or null for the embedded corpus.</param>
/// <param name="Device">The device the user picked (<c>--device</c>, <c>--precision</c>).</param>
/// <param name="Seed">Seed of training, distillation and latency sampling.</param>
/// <param name="From">Rerun from this stage (earlier stages must have finished), or null to continue where the last run stopped.</param>
internal sealed record DemoRequest(DemoPreset Preset, string Output, string? Data, DeviceChoice Device, ulong Seed, DemoStage? From);

/// <summary>
/// Runs the demo's stages in order. A stage whose marker says it finished under the same settings is reused; the first
/// one that did not finish, and every later one, runs again (so an interrupted demo continues where it stopped).
/// <c>--from</c> reruns a stage and everything after it.
/// </summary>
internal sealed class DemoRun(CliConsole console, DemoRequest request)
{
    private readonly DemoLayout _layout = new(Path.GetFullPath(request.Output));

    /// <summary>Runs or reuses every stage; returns the report's path.</summary>
    /// <exception cref="InvalidOperationException"><c>--from</c> names a stage whose earlier stages have not finished.</exception>
    public string Run(CancellationToken cancellationToken)
    {
        var markers = new StageMarkers(_layout, StageMarkers.Settings(request.Preset, request.Data, request.Seed));
        if (request.From is DemoStage from)
        {
            foreach (DemoStage earlier in DemoStages.All.Where(s => s < from))
                if (markers.Finished(earlier) is null)
                    throw new InvalidOperationException(
                        $"--from {from.Name()}: stage '{earlier.Name()}' has not finished in {_layout.Root} with these settings; " +
                        $"run without --from, or with --from {earlier.Name()}.");
            markers.ClearFrom(from);
        }
        Directory.CreateDirectory(_layout.Root);
        using Device device = request.Device.Open();
        DemoPreset preset = request.Preset;
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Demo, preset {preset.Name} ({preset.Purpose}) on {device.Description}; outputs in {_layout.Root}"));
        var clock = Stopwatch.StartNew();
        var finished = new Dictionary<DemoStage, StageMarker>();
        PreparedCorpus? corpus = null;
        string? report = null;
        foreach (DemoStage stage in DemoStages.All)
        {
            cancellationToken.ThrowIfCancellationRequested();
            string heading = $"[{(int)stage + 1}/{DemoStages.All.Count}] {stage.Title()}";
            if (markers.Finished(stage) is StageMarker done && Reusable(stage, done))
            {
                console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{heading}: reused (finished in {done.Seconds:F1} s on {done.FinishedUtc:yyyy-MM-dd HH:mm} UTC)"));
                if (stage == DemoStage.Data) corpus = PreparedCorpus.Open(done.Detail!, Tokenizer.FromName(preset.Tokenizer));
                finished[stage] = done;
                continue;
            }
            console.Out.WriteLine(heading);
            markers.ClearFrom(stage);
            var stageClock = Stopwatch.StartNew();
            string detail = device.Description;
            switch (stage)
            {
                case DemoStage.Data:
                    corpus = PrepareData();
                    detail = corpus.Directory;
                    break;
                case DemoStage.Teacher:
                    TrainingConfig teacherTraining = preset.TeacherTraining(request.Seed);
                    TrainingRun.Run(console, device,
                        new TrainingRequest(corpus!, preset.Teacher, teacherTraining, preset.TeacherSteps, _layout.Teacher,
                            _layout.TeacherMetrics, CheckpointInterval: Math.Max(1, preset.TeacherSteps / 10),
                            ResumeFrom: UnfinishedTeacher(preset, teacherTraining)),
                        showConfigs: false);
                    break;
                case DemoStage.Judge:
                    JudgeTraining.Run(console, device, corpus!, preset, request.Seed, _layout);
                    break;
                case DemoStage.Distill:
                    DistillationStage.Run(console, device, corpus!, preset, request.Seed, _layout);
                    break;
                case DemoStage.Evaluate:
                    EvaluationStage.Run(console, device, corpus!, preset, request.Seed, _layout);
                    break;
                default:
                    string[] models =
                        [DistillationStage.TeacherName, .. DistillationStage.Students(preset, request.Seed, _layout).Select(s => s.Name)];
                    var inputs = new DemoReportInputs(preset, request.Seed, _layout, corpus!, finished, DemoResults.Load(_layout, models));
                    report = DemoReport.Write(inputs, console.Error);
                    break;
            }
            finished[stage] = markers.Write(stage, stageClock.Elapsed.TotalSeconds, detail);
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{heading}: done in {stageClock.Elapsed.TotalSeconds:F1} s"));
        }
        report ??= _layout.Report;
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Demo done in {clock.Elapsed.TotalMinutes:F1} min. Report: {report}"));
        return report;
    }

    /// <summary>A finished stage is reused unless its outputs have gone (the report, or a prepared corpus folder since deleted).</summary>
    private bool Reusable(DemoStage stage, StageMarker marker) => stage switch
    {
        DemoStage.Data => marker.Detail is string folder && File.Exists(Path.Combine(folder, "metadata.json")),
        DemoStage.Report => File.Exists(_layout.Report),
        _ => true,
    };

    /// <summary>
    /// The embedded corpus at the preset's length and with its tokenizer, or the <c>--data</c> folder, which must match both
    /// and hold a validation split.
    /// </summary>
    /// <exception cref="InvalidDataException">
    /// The folder's sequences have another length or tokenizer, or it has no validation split.
    /// </exception>
    private PreparedCorpus PrepareData()
    {
        int length = request.Preset.Model.Length;
        Tokenizer tokenizer = Tokenizer.FromName(request.Preset.Tokenizer);
        if (request.Data is null) return CorpusSource.PrepareEmbedded(length, tokenizer, console);
        PreparedCorpus corpus = PreparedCorpus.Open(request.Data, tokenizer);
        if (corpus.SequenceLength != length)
            throw new InvalidDataException(
                $"{request.Data} holds sequences of {corpus.SequenceLength} tokens; preset {request.Preset.Name} needs {length}. " +
                $"Prepare it with '{CliApplication.Name} prepare <inputs> -o <folder> --length {length}'.");
        if (corpus.Metadata.Validation.Sequences == 0)
            throw new InvalidDataException(
                $"{request.Data} has no validation split; the demo evaluates on held-out documents. " +
                "Prepare it with --validation-fraction above 0.");
        console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Corpus {corpus.Directory}: {corpus.Metadata.Train.Sequences:N0} training and {corpus.Metadata.Validation.Sequences:N0} " +
            $"validation sequences of {length} tokens."));
        return corpus;
    }

    /// <summary>
    /// The newest teacher checkpoint of an interrupted run of this preset and seed (a step-numbered one, written every tenth
    /// of its steps and on Ctrl+C), which the teacher stage continues; null when there is none, it is finished, or it belongs
    /// to other settings.
    /// </summary>
    private string? UnfinishedTeacher(DemoPreset preset, TrainingConfig training)
    {
        string latest;
        MdlmCheckpointHeader header;
        try
        {
            latest = StepCheckpoints.Latest(_layout.Teacher);
            header = MdlmCheckpoint.ReadHeader(latest);
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException)
        {
            return null; // none, or not a checkpoint this stage can continue: it is trained afresh and replaced
        }
        bool same = header.Model == preset.Teacher && header.Training.Seed == training.Seed
            && header.Training.BatchSize == training.BatchSize
            && header.Training.GradientAccumulationSteps == training.GradientAccumulationSteps;
        return same && header.State.Step < preset.TeacherSteps ? latest : null;
    }
}
