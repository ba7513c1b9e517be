using System.CommandLine;
using IlgpuDiffusion.Cli.Options;
using IlgpuDiffusion.Cli.Runs;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Distillation;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Cli.Commands;

/// <summary><c>distill</c>: multi-round SDTT from an own checkpoint or an imported Hugging Face model, or resumed.</summary>
internal static class DistillCommand
{
    /// <summary>Default output folder of a new run.</summary>
    public const string DefaultOutput = "sdtt";

    /// <summary>Builds the command.</summary>
    public static Command Create(CliConsole console)
    {
        var command = new Command("distill", "Distill a trained MDLM into students that sample in fewer steps (SDTT, multi-round): " +
            "each round halves the sampling steps and writes a checkpoint that 'sample' reads. Logs loss, gradient norm, " +
            "learning rate, round, Δ and tokens/s, and validates each round's student. Under mpirun (Open MPI) each process is one " +
            "rank of a data-parallel job sharing every step's micro-batches (--accumulation a multiple of the ranks).");
        var teacher = new Argument<string?>("teacher")
        {
            Description = "The teacher: a training checkpoint (.safetensors made by 'train'; its EMA weights unless --raw-weights) " +
                "or a Hugging Face model folder or repository id in the local cache (e.g. kuleshov-group/mdlm-owt). Omit it with --resume.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        command.Arguments.Add(teacher);
        var corpus = new CorpusSource(command);
        var rawWeights = new Option<bool>("--raw-weights")
        {
            Description = "Start from a training checkpoint's raw weights instead of their moving average (EMA)",
        };
        var output = new Option<string?>("--output", "-o")
        {
            HelpName = "folder",
            Description = $"Folder of the round checkpoints (round-<r>-<N>-steps.safetensors), the resume checkpoints " +
                "(latest.step-NNNNNN.safetensors, and latest.safetensors at the end) and metrics.jsonl " +
                $"(default: the --resume file's folder, else {DefaultOutput})",
        };
        var resume = new Option<string?>("--resume")
        {
            HelpName = "checkpoint",
            Description = "Continue the distillation saved in this checkpoint (e.g. latest.step-000500.safetensors), or 'latest' " +
                "(or a folder: the newest whole resume checkpoint there): same rounds, targets, batch and seed",
        };
        var checkpointInterval = new Option<int>("--checkpoint-interval")
        {
            Description = "Optimizer steps between step-numbered resume checkpoints, 0 for none until the end (Ctrl+C also writes one)",
            DefaultValueFactory = _ => 500,
        }.NotNegative();
        Option<int> keepCheckpoints = CheckpointKeeping.KeepOption();
        var resumable = new Option<bool>("--resumable")
        {
            Description = "Write each round's checkpoint with the full state (raw weights, EMA, Adam moments, teacher); by default " +
                "it holds the student's EMA weights and sampling steps alone (what sample/eval/export read, a fifth of the size)",
        };
        var device = new DeviceOptions(command);
        foreach (Option option in new Option[] { rawWeights, output, resume, checkpointInterval, keepCheckpoints, resumable })
            command.Options.Add(option);
        var distillation = new DistillationOptions(command);
        command.Validators.Add(result =>
        {
            if ((result.GetValue(teacher) is null) == (result.GetValue(resume) is null))
                result.AddError("Give either a teacher (checkpoint or Hugging Face folder) or --resume <checkpoint>.");
        });

        command.SetAction(parse => DataParallelJob.Run(console, (group, console) =>
        {
            string? resumeFrom = CheckpointKeeping.Resolve(parse.GetValue(resume),
                folder => DistillationRequest.LatestIn(folder ?? parse.GetValue(output) ?? DefaultOutput));
            DistillationConfig baseline = resumeFrom is null ? DistillationConfig.Sdtt : DistillationCheckpoint.Read(resumeFrom).Config;
            DistillationConfig config = distillation.Apply(parse, baseline);
            string folder = parse.GetValue(output)
                ?? (resumeFrom is null ? DefaultOutput : Path.GetDirectoryName(Path.GetFullPath(resumeFrom))!);
            OutputPaths.RequireFolder(folder, "--output");
            using Device opened = device.Open(parse, group.LocalRank);
            string source = resumeFrom ?? parse.GetValue(teacher)!;
            // A resumed run overwrites every weight from its checkpoint; the checkpoint's raw weights only shape the model.
            using Dit initial = resumeFrom is null
                ? ModelLoading.LoadDiffusion(ModelSource.Resolve(source), opened, parse.GetValue(rawWeights))
                : MdlmCheckpoint.LoadModel(resumeFrom, opened, useEma: false);
            PreparedCorpus data = corpus.Open(parse, initial.Config.Length, Tokenizer.FromName(initial.Config.Tokenizer), console);
            DistillationRun.Run(console, initial,
                new DistillationRequest(data, source, config, folder, parse.GetValue(checkpointInterval), resumeFrom,
                    parse.GetValue(keepCheckpoints), parse.GetValue(resumable)), group);
            return CliApplication.Success;
        }));
        return command;
    }
}
