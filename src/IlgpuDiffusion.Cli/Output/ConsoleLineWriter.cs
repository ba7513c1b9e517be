using System.Text;
using Spectre.Console;

namespace IlgpuDiffusion.Cli.Output;

/// <summary>
/// A text writer that hands each complete line to a Spectre console, so that lines written while a progress bar
/// is live appear above the bar instead of tearing it.
/// </summary>
internal sealed class ConsoleLineWriter(IAnsiConsole console) : TextWriter
{
    private readonly StringBuilder _line = new();

    /// <inheritdoc/>
    public override Encoding Encoding => Encoding.UTF8;

    /// <inheritdoc/>
    public override void Write(char value)
    {
        if (value == '\r') return;
        if (value != '\n')
        {
            _line.Append(value);
            return;
        }
        console.WriteLine(_line.ToString());
        _line.Clear();
    }
}
