using System.Text.RegularExpressions;

namespace IlgpuDiffusion;

/// <summary>
/// The local Hugging Face hub cache, as <c>huggingface_hub</c> lays it out: under the root, a repository
/// <c>org/name</c> lives in <c>models--org--name/</c>, whose <c>refs/main</c> (or <c>refs/&lt;branch&gt;</c>) holds a commit
/// hash and whose <c>snapshots/&lt;hash&gt;/</c> holds the files (often links into <c>../../blobs/</c>). Read only: nothing is
/// ever downloaded.
/// </summary>
public static partial class HuggingFaceCache
{
    /// <summary>
    /// The cache root the Hugging Face tools use: <c>$HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, else
    /// <c>~/.cache/huggingface/hub</c>.
    /// </summary>
    public static string DefaultRoot => RootFrom(Environment.GetEnvironmentVariable);

    /// <summary>Whether <paramref name="source"/> reads as a repository id, <c>org/name</c> with an optional <c>@revision</c>.</summary>
    public static bool IsRepoId(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        return RepoIdPattern().IsMatch(source);
    }

    /// <summary>
    /// The snapshot folder of repository <paramref name="repoId"/> (<c>org/name</c>, optionally <c>@revision</c>: a branch,
    /// a tag or a commit hash; <c>main</c> by default) in the cache at <paramref name="root"/> (<see cref="DefaultRoot"/>
    /// when null).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="repoId"/> is not of the form <c>org/name[@revision]</c>.</exception>
    /// <exception cref="DirectoryNotFoundException">The cache holds no such repository or revision; the message names the
    /// folder searched and how to download the files.</exception>
    public static string FindSnapshot(string repoId, string? root = null)
    {
        ArgumentNullException.ThrowIfNull(repoId);
        Match match = RepoIdPattern().Match(repoId);
        if (!match.Success)
            throw new ArgumentException($"'{repoId}' is not a Hugging Face repository id of the form org/name or org/name@revision.",
                nameof(repoId));
        string name = match.Groups["name"].Value;
        string revision = match.Groups["revision"].Success ? match.Groups["revision"].Value : "main";
        root ??= DefaultRoot;
        string repository = Path.Combine(root, "models--" + name.Replace("/", "--", StringComparison.Ordinal));
        string download = $"huggingface-cli download {name}{(revision == "main" ? "" : $" --revision {revision}")}";
        if (!Directory.Exists(repository))
            throw new DirectoryNotFoundException($"The Hugging Face cache '{root}' holds no model '{name}' (no folder " +
                $"'{repository}'). Nothing is downloaded: fetch it with '{download}' (the cache root is $HF_HUB_CACHE, else " +
                "$HF_HOME/hub, else ~/.cache/huggingface/hub), or give a model folder or checkpoint file.");
        string reference = Path.Combine(repository, "refs", revision);
        string commit = File.Exists(reference) ? File.ReadAllText(reference).Trim() : revision;
        string snapshot = Path.Combine(repository, "snapshots", commit);
        if (commit.Length == 0 || commit.IndexOfAny(['/', '\\']) >= 0 || !Directory.Exists(snapshot))
            throw new DirectoryNotFoundException($"The Hugging Face cache '{root}' holds model '{name}' but not its revision " +
                $"'{revision}' (no snapshot '{snapshot}'). Nothing is downloaded: fetch it with '{download}'.");
        return snapshot;
    }

    /// <summary>The cache root read from <paramref name="environment"/> (a variable name → its value, or null).</summary>
    internal static string RootFrom(Func<string, string?> environment)
    {
        if (environment("HF_HUB_CACHE") is { Length: > 0 } hub) return hub;
        if (environment("HF_HOME") is { Length: > 0 } home) return Path.Combine(home, "hub");
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "huggingface", "hub");
    }

    [GeneratedRegex(@"^(?<name>[A-Za-z0-9][A-Za-z0-9_.\-]*/[A-Za-z0-9][A-Za-z0-9_.\-]*)(@(?<revision>[A-Za-z0-9][A-Za-z0-9_.\-]*))?$")]
    private static partial Regex RepoIdPattern();
}
