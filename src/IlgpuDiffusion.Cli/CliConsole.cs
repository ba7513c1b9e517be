using Spectre.Console;

namespace IlgpuDiffusion.Cli;

/// <summary>
/// Where a command writes: <see cref="Out"/> for results (tables, samples), <see cref="Error"/> for diagnostics
/// and errors, each also wrapped as a Spectre.Console <see cref="IAnsiConsole"/> for tables and live displays.
/// Progress bars and live displays are shown only when <see cref="Interactive"/>: the writers are the process's
/// own console streams and neither is redirected. Otherwise (tests, pipes, CI logs) output is plain text
/// without ANSI codes.
/// </summary>
public sealed class CliConsole
{
    private CliConsole(TextWriter output, TextWriter error, bool interactive, bool errorInteractive)
    {
        Out = output;
        Error = error;
        Interactive = interactive;
        ErrorInteractive = errorInteractive;
        OutConsole = Wrap(output, interactive && !Console.IsOutputRedirected);
        ErrorConsole = Wrap(error, errorInteractive);
    }

    /// <summary>Results: tables, generated text, summaries.</summary>
    public TextWriter Out { get; }

    /// <summary>Diagnostics and errors.</summary>
    public TextWriter Error { get; }

    /// <summary><see cref="Out"/> as a Spectre console (tables, markup).</summary>
    public IAnsiConsole OutConsole { get; }

    /// <summary><see cref="Error"/> as a Spectre console (live displays that must not mix with piped results).</summary>
    public IAnsiConsole ErrorConsole { get; }

    /// <summary>Whether progress bars and live displays may be drawn (a terminal, nothing redirected).</summary>
    public bool Interactive { get; }

    /// <summary>
    /// Whether <see cref="ErrorConsole"/> may draw progress: standard error is the process's terminal, even where the results
    /// on <see cref="Out"/> go to a file or pipe.
    /// </summary>
    public bool ErrorInteractive { get; }

    /// <summary>
    /// Wraps <paramref name="output"/> and <paramref name="error"/>; interactive only when they are the process's terminal.
    /// </summary>
    public static CliConsole Create(TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        bool terminal = ReferenceEquals(output, Console.Out) && ReferenceEquals(error, Console.Error)
            && !Console.IsOutputRedirected && !Console.IsErrorRedirected;
        bool errorTerminal = ReferenceEquals(error, Console.Error) && !Console.IsErrorRedirected;
        return new CliConsole(output, error, terminal, errorTerminal);
    }

    /// <summary>This console with results discarded and no live displays: what a data-parallel rank other than 0 writes to.</summary>
    internal CliConsole WithoutResults() => new(TextWriter.Null, Error, interactive: false, errorInteractive: false);

    /// <summary>Width of tables written to a file or pipe, wide enough for paths.</summary>
    private const int RedirectedWidth = 120;

    private static IAnsiConsole Wrap(TextWriter writer, bool terminal)
    {
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = terminal ? InteractionSupport.Detect : InteractionSupport.No,
        });
        if (!terminal) console.Profile.Width = RedirectedWidth;
        return console;
    }
}
