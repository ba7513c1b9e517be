using System.CommandLine;
using IlgpuDiffusion.Autoregressive;
using IlgpuDiffusion.Cli.Options;
using IlgpuDiffusion.Cli.Runs;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Cli.Commands;

/// <summary>
/// <c>train</c>: MDLM training (or, with <c>--model ar</c>, the autoregressive GPT baseline) on prepared token shards,
/// from scratch or resumed from a checkpoint.
/// </summary>
internal static class TrainCommand
{
    /// <summary>Default checkpoint path of a new run.</summary>
    public const string DefaultCheckpoint = "mdlm.safetensors";

    /// <summary>Default checkpoint path of a new <c>--model ar</c> run.</summary>
    public const string DefaultArCheckpoint = "gpt.safetensors";

    /// <summary>Builds the command.</summary>
    public static Command Create(CliConsole console)
    {
        var command = new Command("train", "Train a masked diffusion language model (MDLM), or with --model ar the autoregressive " +
            "GPT baseline, on prepared token shards. Logs loss, gradient norm, learning rate and tokens/s, validates the EMA weights, " +
            "and writes a checkpoint that 'sample'/'distill'/'eval' (MDLM), 'eval --ar/--judge' (AR), 'info' and --resume read. Under " +
            "mpirun (Open MPI) each process is one rank of a data-parallel job sharing every step's micro-batches (--accumulation a " +
            "multiple of the ranks).");
        var kind = new Option<string>("--model")
        {
            Description = "mdlm (the masked diffusion model) or ar (the GPT baseline with next-token loss; the judge and latency peer)",
            DefaultValueFactory = _ => "mdlm",
        };
        kind.AcceptOnlyFromAmong("mdlm", "ar");
        var corpus = new CorpusSource(command);
        var steps = new Option<int>("--steps", "-n")
        {
            Description = "Train until this many optimizer steps are done (a resumed run counts the checkpoint's steps)",
            DefaultValueFactory = _ => 1000,
        }.Positive();
        var output = new Option<string?>("--output", "-o")
        {
            HelpName = "file",
            Description = $"Checkpoint file written atomically at the end (default: the --resume file's run, else {DefaultCheckpoint}); " +
                "periodic ones go beside it as <name>.step-NNNNNN.safetensors",
        };
        var resume = new Option<string?>("--resume")
        {
            HelpName = "checkpoint",
            Description = "Continue the run saved in this checkpoint (or 'latest', or a folder: the last written whole one of the " +
                "--output file and its step-numbered checkpoints): same model, batch, accumulation and seed; other settings may change",
        };
        var metrics = new Option<string?>("--metrics")
        {
            HelpName = "file",
            Description = "JSON-lines metrics file, replaced by a new run and appended to by --resume " +
                "(default: the checkpoint's name with .metrics.jsonl)",
        };
        var checkpointInterval = new Option<int>("--checkpoint-interval")
        {
            Description = "Optimizer steps between step-numbered checkpoints, 0 for only at the end (Ctrl+C also writes one)",
            DefaultValueFactory = _ => 500,
        }.NotNegative();
        Option<int> keepCheckpoints = CheckpointKeeping.KeepOption();
        var resumable = new Option<bool>("--resumable")
        {
            Description = "Write the full state (raw weights, EMA, Adam moments) to the --output file too; by default it holds the " +
                "EMA weights alone (what sample/eval/distill/export read, a quarter of the size) and the state to resume goes to " +
                "the end's step-numbered checkpoint",
        };
        var device = new DeviceOptions(command);
        var profile = new Option<bool>("--profile")
        {
            Description = "Time every op of the steps after the first and print a table of where a step's time goes (on a GPU " +
                "by events on its stream, the host not waiting for each op; on the CPU between two synchronizations)",
        };
        Option[] options = [kind, steps, output, resume, metrics, checkpointInterval, keepCheckpoints, resumable, profile];
        foreach (Option option in options)
            command.Options.Add(option);
        var model = new ModelOptions(command);
        var training = new TrainingOptions(command);

        command.SetAction(parse => DataParallelJob.Run(console, (group, console) =>
        {
            bool autoregressive = parse.GetValue(kind) == "ar";
            string defaultCheckpoint = autoregressive ? DefaultArCheckpoint : DefaultCheckpoint;
            string? resumeFrom = CheckpointKeeping.Resolve(parse.GetValue(resume), folder =>
            {
                string run = parse.GetValue(output) ?? defaultCheckpoint;
                return folder is null ? run : Path.Combine(folder, Path.GetFileName(run));
            });
            IReadOnlyList<string> modelOptions = model.Given(parse);
            if (resumeFrom is not null && modelOptions.Count > 0)
                throw new ArgumentException($"A resumed run keeps the checkpoint's model; drop {string.Join(", ", modelOptions)}.");
            int stepCount = parse.GetValue(steps);
            string checkpoint = parse.GetValue(output) ?? (resumeFrom is null ? defaultCheckpoint : StepCheckpoints.BaseOf(resumeFrom));
            string metricsPath = parse.GetValue(metrics) ?? MetricsPathBeside(checkpoint);
            int interval = parse.GetValue(checkpointInterval), keep = parse.GetValue(keepCheckpoints);
            bool fullState = parse.GetValue(resumable);
            OutputPaths.RequireFile(checkpoint, "--output");
            OutputPaths.RequireFile(metricsPath, "--metrics");
            OutputPaths.RequireNotAnInput(checkpoint, "--output", corpus.Folder(parse));
            OutputPaths.RequireNotAnInput(metricsPath, "--metrics", checkpoint, resumeFrom, corpus.Folder(parse));
            if (autoregressive)
            {
                GptCheckpointHeader? resumed = resumeFrom is null ? null : GptCheckpoint.ReadHeader(resumeFrom);
                using Device opened = device.Open(parse, group.LocalRank);
                TrainingConfig config = training.Apply(parse, resumed?.Training ?? TrainingConfig.Mdlm, stepCount, resumed is not null,
                    console);
                Tokenizer? tokenizer = resumed is null ? model.Tokenizer(parse) : Tokenizer.FromName(resumed.Model.Tokenizer);
                PreparedCorpus data = corpus.Open(parse, resumed?.Model.Length ?? model.Length(parse), tokenizer, console);
                GptConfig shape = resumed?.Model ?? model.ResolveGpt(parse, data.SequenceLength, data.Tokenizer);
                ArTrainingRun.Run(console, opened,
                    new ArTrainingRequest(data, shape, config, stepCount, checkpoint, metricsPath, interval, resumeFrom,
                        parse.GetValue(profile), keep, fullState),
                    showConfigs: true, group);
            }
            else
            {
                MdlmCheckpointHeader? resumed = resumeFrom is null ? null : MdlmCheckpoint.ReadHeader(resumeFrom);
                using Device opened = device.Open(parse, group.LocalRank);
                TrainingConfig config = training.Apply(parse, resumed?.Training ?? TrainingConfig.Mdlm, stepCount, resumed is not null,
                    console);
                Tokenizer? tokenizer = resumed is null ? model.Tokenizer(parse) : Tokenizer.FromName(resumed.Model.Tokenizer);
                PreparedCorpus data = corpus.Open(parse, resumed?.Model.Length ?? model.Length(parse), tokenizer, console);
                DitConfig shape = resumed?.Model ?? model.Resolve(parse, data.SequenceLength, data.Tokenizer);
                TrainingRun.Run(console, opened,
                    new TrainingRequest(data, shape, config, stepCount, checkpoint, metricsPath, interval, resumeFrom,
                        parse.GetValue(profile), keep, fullState),
                    showConfigs: true, group);
            }
            return CliApplication.Success;
        }));
        return command;
    }

    /// <summary>The default metrics file of a checkpoint: <c>run.safetensors</c> → <c>run.metrics.jsonl</c>.</summary>
    public static string MetricsPathBeside(string checkpoint) => Path.ChangeExtension(checkpoint, ".metrics.jsonl");
}
