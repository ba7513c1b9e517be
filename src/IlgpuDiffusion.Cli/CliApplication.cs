using System.CommandLine;
using System.Text.RegularExpressions;
using IlgpuDiffusion.Cli.Commands;
using IlgpuDiffusion.Cli.Runs;
using IlgpuDiffusion.Distributed;

namespace IlgpuDiffusion.Cli;

/// <summary>
/// The command-line tool as a function of its arguments: parses them, runs the chosen command and turns every
/// failure into one line <c>error: message</c> on the error writer and a non-zero exit code (the stack trace only
/// with <c>--verbose</c>). The executable and the tests call the same <see cref="RunAsync"/>.
/// </summary>
public static partial class CliApplication
{
    /// <summary>The tool's command name (the dotnet tool's <c>ToolCommandName</c>).</summary>
    public const string Name = "ilgpu-diffusion";

    /// <summary>Exit code of a command that finished.</summary>
    public const int Success = 0;

    /// <summary>Exit code of a command that failed while running.</summary>
    public const int Failure = 1;

    /// <summary>
    /// Exit code of a command line that does not parse (unknown option, bad value) or cannot be carried out as written
    /// (<see cref="UsageException"/>: an output path that cannot be written, nothing to do).
    /// </summary>
    public const int UsageError = 2;

    /// <summary>
    /// Runs the tool on <paramref name="args"/>, writing results to <paramref name="output"/> and errors to <paramref name="error"/>.
    /// </summary>
    /// <returns>The exit code: <see cref="Success"/>, <see cref="Failure"/> or <see cref="UsageError"/>.</returns>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        var console = CliConsole.Create(output, error);
        var verbose = VerboseOption();
        RootCommand root = BuildRoot(console, verbose);
        ParseResult? parsed = null;
        try
        {
            parsed = root.Parse(args);
            if (parsed.Errors.Count > 0)
            {
                error.WriteLine($"error: {OneLine(string.Join(" ", parsed.Errors.Select(e => Readable(e.Message))))}" +
                    $" (see '{HelpCommandLine(parsed)}')");
                return UsageError;
            }
            if (DataParallelGroup.LaunchedRanks > 1 && parsed.CommandResult.Command.Name is not ("train" or "distill"))
                throw new UsageException($"mpirun started {DataParallelGroup.LaunchedRanks} copies of '{Name} " +
                    $"{parsed.CommandResult.Command.Name}', which would each do the same work: only train and distill run " +
                    "data-parallel. Run it without mpirun.");
            var invocation = new InvocationConfiguration
            {
                Output = output,
                Error = error,
                EnableDefaultExceptionHandler = false,
                // Program handles Ctrl+C and SIGTERM: a training run stops after its step (Interruption), else the process ends.
                ProcessTerminationTimeout = null,
            };
            return await parsed.InvokeAsync(invocation, cancellationToken);
        }
        catch (OperationCanceledException) when (Interruption.Stopped)
        {
            error.WriteLine("Stopped by the signal; a step-numbered checkpoint holds the last finished step (continue with " +
                "the same train or distill command plus --resume latest, or the same demo command).");
            return Interruption.ExitCode;
        }
        catch (Exception e)
        {
            error.WriteLine($"error: {OneLine(ErrorMessage(e))}");
            if (parsed?.GetValue(verbose) ?? args.Any(arg => arg is "--verbose" or "-v")) error.WriteLine(e);
            return e is UsageException ? UsageError : Failure;
        }
    }

    /// <summary>Parses <paramref name="args"/> as <see cref="RunAsync"/> does, running nothing: its errors are the usage errors.</summary>
    internal static ParseResult Parse(string[] args) =>
        BuildRoot(CliConsole.Create(TextWriter.Null, TextWriter.Null), VerboseOption()).Parse(args);

    private static Option<bool> VerboseOption() => new("--verbose", "-v")
    {
        Description = "Print the stack trace of an error",
        Recursive = true,
    };

    /// <summary>The root command with every subcommand.</summary>
    private static RootCommand BuildRoot(CliConsole console, Option<bool> verbose)
    {
        var root = new RootCommand("Masked diffusion language models (MDLM) in pure .NET: prepare a corpus, train, distill, sample, " +
            "evaluate, inspect.")
        {
            HelpName = Name,
        };
        root.Options.Add(verbose);
        root.Subcommands.Add(PrepareCommand.Create(console));
        root.Subcommands.Add(TrainCommand.Create(console));
        root.Subcommands.Add(DistillCommand.Create(console));
        root.Subcommands.Add(SampleCommand.Create(console));
        root.Subcommands.Add(EvalCommand.Create(console));
        root.Subcommands.Add(InfoCommand.Create(console));
        root.Subcommands.Add(ExportCommand.Create(console));
        root.Subcommands.Add(DemoCommand.Create(console));
        root.Subcommands.Add(BenchCommand.Create(console));
        root.Subcommands.Add(ServeCommand.Create(console));
        root.Subcommands.Add(KernelsCommand.Create(console));
        return root;
    }

    /// <summary>
    /// The message of an error a user can cause, as the library wrote it; other exceptions are bugs and say so.
    /// </summary>
    internal static string ErrorMessage(Exception e) => e switch
    {
        AggregateException { InnerExceptions.Count: 1 } aggregate => ErrorMessage(aggregate.InnerException!),
        ArgumentException argument => WithoutParameterName(argument),
        InvalidDataException or IOException or InvalidOperationException or NotSupportedException
            or UnauthorizedAccessException or FormatException or OverflowException or UsageException => e.Message,
        OutOfMemoryException => $"out of memory ({e.Message}). Use a smaller model, batch or sequence length.",
        OperationCanceledException => "cancelled.",
        _ => $"{e.Message} (internal error {e.GetType().Name}; run with --verbose for the stack trace)",
    };

    /// <summary>
    /// An argument error's message without the " (Parameter 'name')" that .NET appends (the name is a library
    /// property, not an option), on one line.
    /// </summary>
    private static string WithoutParameterName(ArgumentException e)
    {
        string message = e.Message;
        if (e.ParamName is not null) message = message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal);
        return message;
    }

    /// <summary>
    /// A parse error with .NET type names replaced by what to type ("as expected type 'System.Int32'" → "as an integer").
    /// </summary>
    private static string Readable(string parseError) => ExpectedType().Replace(parseError, match => match.Groups[1].Value switch
    {
        "Int32" or "Int64" => "as an integer",
        "UInt64" => "as a non-negative integer",
        "Double" or "Single" => "as a number",
        _ => "as a value of this option",
    });

    /// <summary>System.CommandLine's type name, also inside Nullable`1[…] and of array elements: the .NET name is left out.</summary>
    [GeneratedRegex(@"as expected type '(?:[\w.]+`1\[)?(?:[\w.]+\.)?(\w+)\]?(?:\[\])?'")]
    private static partial Regex ExpectedType();

    private static string OneLine(string message) =>
        string.Join(" ", message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static string HelpCommandLine(ParseResult parsed)
    {
        var names = new List<string>();
        for (var command = parsed.CommandResult; command is not null; command = command.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, command.Command.Name);
        names[0] = Name;
        return string.Join(" ", names) + " --help";
    }
}
