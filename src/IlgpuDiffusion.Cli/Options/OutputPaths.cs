using IlgpuDiffusion.Files;

namespace IlgpuDiffusion.Cli.Options;

/// <summary>
/// The checks a command makes on its outputs before any long work, each failure a <see cref="UsageException"/> naming the
/// option: the path can be written (<see cref="OutputPath"/>), and it is none of the command's inputs.
/// </summary>
internal static class OutputPaths
{
    /// <summary>Requires that the file <paramref name="path"/> (given by <paramref name="option"/>) can be written.</summary>
    /// <exception cref="UsageException">It cannot.</exception>
    public static void RequireFile(string path, string option)
    {
        if (OutputPath.FileProblem(path) is string problem) throw new UsageException($"{option}: {problem}");
    }

    /// <summary>Requires that files can be written in the folder <paramref name="path"/> (given by <paramref name="option"/>).</summary>
    /// <exception cref="UsageException">They cannot.</exception>
    public static void RequireFolder(string path, string option)
    {
        if (OutputPath.FolderProblem(path) is string problem) throw new UsageException($"{option}: {problem}");
    }

    /// <summary>
    /// Requires that the output file <paramref name="output"/> (given by <paramref name="option"/>) is none of
    /// <paramref name="inputs"/>: files, or folders whose files count (a Hugging Face model, a corpus); null entries are skipped.
    /// </summary>
    /// <exception cref="UsageException">It is one of them.</exception>
    public static void RequireNotAnInput(string output, string option, params string?[] inputs)
    {
        foreach (string input in inputs.OfType<string>())
        {
            IEnumerable<string> files = Directory.Exists(input) ? Directory.EnumerateFiles(input) : [input];
            if (files.Any(file => OutputPath.SameFile(output, file)))
            {
                throw new UsageException($"{option} '{output}' is the same file ({OutputPath.Canonical(output)}) as " +
                    $"'{input}'; write it elsewhere.");
            }
        }
    }
}
