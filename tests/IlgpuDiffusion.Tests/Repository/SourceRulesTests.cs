using System.Text.RegularExpressions;
using Xunit;

namespace IlgpuDiffusion.Tests.Repository;

/// <summary>
/// Rules for the source text that neither the compiler nor <c>dotnet format</c> checks: the 140-character line limit of
/// .editorconfig, and comments that cite only what a reader of the repository has (docs/, papers by arXiv id), never an
/// issue number or an outside specification. Skipped where the sources are absent (a test build copied to a GPU machine).
/// </summary>
public sealed partial class SourceRulesTests
{
    private const int LineLimit = 140;

    private static readonly string[] SourceFolders = ["src", "tests", "bench", "examples", "tools"];

    [SkippableFact]
    public void Source_lines_hold_at_most_140_characters()
    {
        var offenders = SourceLines().Where(line => line.Text.Length > LineLimit)
            .Select(line => $"{line.Where} ({line.Text.Length} characters)").ToList();
        Assert.True(offenders.Count == 0, $"{offenders.Count} lines over {LineLimit} characters:\n{string.Join("\n", offenders)}");
    }

    [SkippableFact]
    public void Comments_cite_documents_of_the_repository_not_issues_or_the_old_spec()
    {
        var offenders = SourceLines().Where(line => ForeignCitation().IsMatch(line.Text)).Select(line => line.Where).ToList();
        Assert.True(offenders.Count == 0, $"Lines citing an issue number or the old spec:\n{string.Join("\n", offenders)}");
    }

    /// <summary>
    /// The shared test devices are used by one test at a time: every test class that takes one from
    /// <c>TestBackends.Get</c> runs in the conformance collection, which xunit does not run beside itself.
    /// </summary>
    [SkippableFact]
    public void Tests_on_the_shared_devices_run_in_the_conformance_collection()
    {
        var offenders = SourceLines().Where(line => line.Where.StartsWith("tests", StringComparison.Ordinal))
            .GroupBy(line => line.Where[..line.Where.LastIndexOf(':')])
            .Where(file => file.Any(line => line.Text.Contains("TestBackends.Get(", StringComparison.Ordinal))
                && file.Any(line => TestAttribute().IsMatch(line.Text))
                && !file.Any(line => line.Text.Contains("[Collection(ConformanceCollection.Name)]", StringComparison.Ordinal)))
            .Select(file => file.Key).ToList();
        Assert.True(offenders.Count == 0,
            $"Test classes on a shared device outside the conformance collection:\n{string.Join("\n", offenders)}");
    }

    /// <summary>
    /// The library loads its kernels through <c>KernelLoader</c> alone (its typed forms included), so that CUDA takes each
    /// kernel's PTX from the disk cache where an earlier process compiled it; a kernel loaded by ILGPU's own loaders would
    /// be compiled again in every process.
    /// </summary>
    [SkippableFact]
    public void The_library_loads_kernels_through_its_loader_alone()
    {
        var offenders = SourceLines()
            .Where(line => line.Where.StartsWith("src", StringComparison.Ordinal) && IlgpuLoader().IsMatch(line.Text) &&
                !line.Where.StartsWith(Path.Combine("src", "IlgpuDiffusion.Compute", "Ilgpu", "KernelLoader.cs"), StringComparison.Ordinal))
            .Select(line => line.Where).ToList();
        Assert.True(offenders.Count == 0, $"Kernels loaded by ILGPU's own loaders:\n{string.Join("\n", offenders)}");
    }

    [GeneratedRegex(@"\.Load(AutoGrouped|ImplicitlyGrouped)?(Stream)?Kernel\b")]
    private static partial Regex IlgpuLoader();

    [GeneratedRegex(@"^\s*\[(Skippable)?(Fact|Theory)\b")]
    private static partial Regex TestAttribute();

    [GeneratedRegex(@"\bspec §|\b[Ii]ssue [0-9]+")]
    private static partial Regex ForeignCitation();

    /// <summary>Every line of every C# file under the source folders, bin and obj left out.</summary>
    private static IEnumerable<(string Where, string Text)> SourceLines()
    {
        string root = RepositoryRoot();
        foreach (string folder in SourceFolders)
        {
            string path = Path.Combine(root, folder);
            if (!Directory.Exists(path)) continue;
            foreach (string file in Directory.EnumerateFiles(path, "*.cs", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                string relative = Path.GetRelativePath(root, file);
                string[] parts = relative.Split(Path.DirectorySeparatorChar);
                if (parts.Contains("bin") || parts.Contains("obj")) continue;
                int number = 0;
                foreach (string text in File.ReadLines(file)) yield return ($"{relative}:{++number}", text);
            }
        }
    }

    /// <summary>The folder holding IlgpuDiffusion.sln above the test binaries; skips the test when there is none.</summary>
    internal static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "IlgpuDiffusion.sln"))) return folder.FullName;
        Skip.If(true, "The repository's sources are not above the test binaries (a copied test build): nothing to check.");
        return "";
    }
}
