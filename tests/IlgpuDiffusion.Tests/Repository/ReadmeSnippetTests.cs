using System.Text.RegularExpressions;
using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace IlgpuDiffusion.Tests.Repository;

/// <summary>
/// Every <c>```csharp</c> block of the repository's README and of the library package's README compiles, as a console
/// program of its own, against the four libraries with a new project's implicit usings: a snippet missing a <c>using</c>,
/// calling an API that changed or using an undefined name fails here. Skipped where the sources are absent.
/// </summary>
public sealed partial class ReadmeSnippetTests
{
    /// <summary>The usings a new .NET console project has without writing them.</summary>
    private const string ImplicitUsings = "global using System; global using System.Collections.Generic; global using System.IO; " +
        "global using System.Linq; global using System.Net.Http; global using System.Threading; global using System.Threading.Tasks;";

    public static TheoryData<string> Readmes => new() { "README.md", "src/IlgpuDiffusion/README.md" };

    [SkippableTheory]
    [MemberData(nameof(Readmes))]
    public void Every_csharp_snippet_compiles_against_the_libraries(string readme)
    {
        string path = Path.Combine(RepositoryRoot(), readme);
        MatchCollection snippets = CSharpBlock().Matches(File.ReadAllText(path));
        Assert.NotEmpty(snippets);
        var failures = new List<string>();
        for (int i = 0; i < snippets.Count; i++)
        {
            string code = snippets[i].Groups["code"].Value;
            var compilation = CSharpCompilation.Create($"Snippet{i + 1}",
                [CSharpSyntaxTree.ParseText(code, Parse), CSharpSyntaxTree.ParseText(ImplicitUsings, Parse)],
                References.Value, Options);
            foreach (Diagnostic error in compilation.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error))
            {
                int line = error.Location.GetLineSpan().StartLinePosition.Line + 1;
                failures.Add($"{readme} snippet {i + 1}, line {line}: {error.GetMessage()}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static readonly CSharpParseOptions Parse = new(LanguageVersion.Latest);

    private static readonly CSharpCompilationOptions Options =
        new(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable);

    /// <summary>The runtime's assemblies and the four libraries.</summary>
    private static readonly Lazy<MetadataReference[]> References = new(() =>
    {
        string[] runtime = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator);
        string[] libraries = [typeof(Device).Assembly.Location, typeof(DiffusionLanguageModel).Assembly.Location,
            typeof(EmbeddedCorpus).Assembly.Location, typeof(ParquetCorpusFormat).Assembly.Location];
        return runtime.Concat(libraries).Distinct().Select(file => (MetadataReference)MetadataReference.CreateFromFile(file)).ToArray();
    });

    [GeneratedRegex(@"^```csharp\n(?<code>.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();

    /// <summary>The folder holding IlgpuDiffusion.sln above the test binaries; skips the test when there is none.</summary>
    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "IlgpuDiffusion.sln"))) return folder.FullName;
        Skip.If(true, "The repository's sources are not above the test binaries (a copied test build): nothing to check.");
        return "";
    }
}
