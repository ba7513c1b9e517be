namespace IlgpuDiffusion.Cli;

/// <summary>
/// A command line that cannot be carried out as written although it parses (an output path that cannot be written, nothing to
/// do): reported like a parse error, with <see cref="CliApplication.UsageError"/>.
/// </summary>
internal sealed class UsageException(string message) : Exception(message);
