using System.CommandLine;
using IlgpuDiffusion.Cli.Demo;
using IlgpuDiffusion.Cli.Options;
using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Cli.Commands;

/// <summary>
/// <c>demo</c>, the main job: prepare data, train an MDLM teacher and an AR judge, distill SDTT students, evaluate them
/// all and write <c>report.md</c> with tables and plots. Finished stages are reused, so an interrupted demo continues
/// where it stopped.
/// </summary>
internal static class DemoCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create(CliConsole console)
    {
        var command = new Command("demo",
            "The main job: on the embedded State of the Union corpus, train a Tiny MDLM teacher and a matched GPT judge, " +
            "distill SDTT students (128 → 64, 32, 16, 8 sampling steps), evaluate them all (generative perplexity, entropy, cloze, " +
            "validation perplexity, latency against the GPT) and write report.md with plots. About 25 minutes on 2 idle CPU cores; " +
            "a CUDA GPU is used when present. " +
            "Finished stages are reused: rerun the same command to continue an interrupted demo.");
        var preset = new Option<string>("--preset")
        {
            Description = string.Join("; ", DemoPreset.All.Select(p => $"{p.Name}: {p.Purpose}")),
            DefaultValueFactory = _ => DemoPreset.Default.Name,
        };
        preset.AcceptOnlyFromAmong([.. DemoPreset.All.Select(p => p.Name)]);
        var from = new Option<string?>("--from")
        {
            Description = "Rerun from this stage on, reusing the earlier ones: " + string.Join(", ", DemoStages.All.Select(s => s.Name())),
            HelpName = "stage",
        };
        from.AcceptOnlyFromAmong([.. DemoStages.All.Select(s => s.Name())]);
        var data = new Option<string?>("--data")
        {
            Description = "Use this folder of token shards made by 'prepare' (at the preset's length, with a validation split) " +
                "instead of the embedded corpus",
            HelpName = "folder",
        };
        var seed = new Option<ulong>("--seed")
        {
            Description = "Seed of training, distillation and sampling",
            DefaultValueFactory = _ => 1,
        };
        var output = new Option<string>("--output", "-o")
        {
            Description = "Folder for checkpoints, metrics, the report and its figures",
            DefaultValueFactory = _ => "ilgpu-diffusion-demo",
            HelpName = "folder",
        };
        var teacherSteps = new Option<int?>("--teacher-steps")
        {
            Description = "Optimizer steps of the MDLM teacher instead of the preset's",
            HelpName = "steps",
        }.Positive();
        var judgeSteps = new Option<int?>("--judge-steps")
        {
            Description = "Optimizer steps of the AR judge instead of the preset's",
            HelpName = "steps",
        }.Positive();
        var stepsPerRound = new Option<int?>("--steps-per-round")
        {
            Description = "Optimizer steps of each SDTT round instead of the preset's",
            HelpName = "steps",
        }.Positive();
        Option<string?> tokenizer = TokenizerOption.Create($"Tokenizer of every stage instead of the preset's: {TokenizerOption.Choices} " +
            "[default: the preset's (bytes for default and gpu, gpt2 for the others), or with --data the folder's]");
        var device = new DeviceOptions(command);
        foreach (Option option in new Option[] { preset, from, data, tokenizer, seed, output, teacherSteps, judgeSteps, stepsPerRound })
            command.Options.Add(option);

        command.SetAction((parse, cancellationToken) =>
        {
            OutputPaths.RequireFolder(parse.GetValue(output)!, "--output");
            string? folder = parse.GetValue(data);
            // With --data and no --tokenizer, the demo runs over the folder's tokenizer, as 'train --data' does.
            string? tokenizerName = parse.GetValue(tokenizer) ?? (folder is null ? null : PreparedCorpus.Open(folder).Metadata.Tokenizer);
            var budgets = DemoPreset.Named(parse.GetValue(preset)!)
                .WithBudgets(parse.GetValue(teacherSteps), parse.GetValue(judgeSteps), parse.GetValue(stepsPerRound))
                .WithTokenizer(tokenizerName)
                .Validate();
            var request = new DemoRequest(budgets, parse.GetValue(output)!, folder,
                device.Choice(parse), parse.GetValue(seed), parse.GetValue(from) is string stage ? DemoStages.Parse(stage) : null);
            new DemoRun(console, request).Run(cancellationToken);
            return Task.FromResult(CliApplication.Success);
        });
        return command;
    }
}
