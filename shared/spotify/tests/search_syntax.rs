//! Names that contain Spotify's search syntax (`Sixx:A.M.`, `-M-`, `Bobby "Blue" Bland`):
//! every artist name of the data set resolves to its artist through the real client and
//! the stand-in over HTTP, which reads `q` as Spotify documents it (filters, phrases,
//! operators), so a name sent unescaped is not found.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use encore_domain::normalize;
use encore_spotify::{choose_artist, search_keywords, RetryPolicy, SpotifyClient};
use encore_standin::catalog::SearchQuery;
use encore_standin::{artist_id_for, Catalog, Faults, StandIn};
use encore_test_support::{catalog, spotify_config};

/// Requests in flight against the stand-in.
const CONCURRENCY: usize = 16;
/// Results the client reads per search (its page size).
const PAGE: usize = 10;

/// True when the stand-in's first page for `q` holds an artist named like `name`, as the
/// resolver would pick it.
fn first_page_finds(catalog: &Catalog, q: &str, name: &str) -> bool {
    let wanted = normalize(name);
    catalog
        .search_artists(&SearchQuery::parse(q))
        .iter()
        .take(PAGE)
        .any(|a| a.normalized == wanted)
}

/// The names of the data set whose artist Spotify's syntax hides when the name is sent
/// as typed: a `letters:` prefix is a filter (on a field no artist has), a leading `-`
/// excludes.
const HIDDEN_BY_SYNTAX: [&str; 8] = [
    "Sixx:A.M.",
    "Format:B",
    "CASP:R",
    "NR:TN",
    "Loom:ngs",
    "Metalocalypse: Dethklok",
    "Tucka: King Of Swing",
    "-M-",
];

/// The other names of the 21 the old stand-in missed: their quotes are balanced and
/// enclose whole words of the name, so as phrases they still match it; the resolver
/// sends them without quotes all the same.
const QUOTED: [&str; 16] = [
    "Bobby \"Blue\" Bland",
    "Matthew \"Mdot\" Finley",
    "Danny \"Butch\" Means",
    "Lee \"Shot\" Williams",
    "Evelyn \"Champagne\" King",
    "Tito \"El Bambino\"",
    "Osmani Garcia \"La Voz\"",
    "Héctor \"El Father\"",
    "Franco \"El Gorilla\"",
    "Drako \"El Principe\"",
    "Secreto \"El Famoso Biberon\"",
    "Indiomar \"El Vencedor\"",
    "Galante \"El Emperador\"",
    "Gotay \"El Autentiko\"",
    "DeCarlos \"COS\" Waller",
    "\"Dear Evan Hansen\" August 2018 Broadway Cast",
];

/// In process, over the whole data set: exactly the names above are lost when sent as
/// typed, and every name is found once neutralised.
#[test]
fn unescaped_names_are_lost_and_neutralised_names_found() {
    let catalog = catalog();
    let mut lost: Vec<&str> = Vec::new();
    let mut unfound: Vec<&str> = Vec::new();
    for artist in catalog.artists() {
        if !first_page_finds(&catalog, &artist.name, &artist.name) {
            lost.push(&artist.name);
        }
        if !first_page_finds(&catalog, &search_keywords(&artist.name), &artist.name) {
            unfound.push(&artist.name);
        }
    }
    lost.sort_unstable();
    let mut expected = HIDDEN_BY_SYNTAX.to_vec();
    expected.sort_unstable();
    assert_eq!(lost, expected, "names lost when sent as typed");
    assert!(
        unfound.is_empty(),
        "not found once neutralised: {unfound:?}"
    );
    for name in QUOTED {
        assert!(
            catalog.artist_named(name).is_some(),
            "{name} is in the data"
        );
        assert!(first_page_finds(&catalog, name, name), "{name}");
        assert!(!search_keywords(name).contains('"'), "{name}");
    }
}

/// What the resolver does with a hidden name, as typed and neutralised, on the stand-in.
#[test]
fn a_hidden_name_resolves_only_when_neutralised() {
    let catalog = catalog();
    for name in HIDDEN_BY_SYNTAX {
        let as_typed = catalog.search_artists(&SearchQuery::parse(name));
        let page: Vec<_> = as_typed.iter().take(PAGE).map(|a| (*a).clone()).collect();
        assert_eq!(choose_artist(name, &domain(&page)), None, "{name} as typed");
        let neutralised = catalog.search_artists(&SearchQuery::parse(&search_keywords(name)));
        let page: Vec<_> = neutralised
            .iter()
            .take(PAGE)
            .map(|a| (*a).clone())
            .collect();
        let (index, _) = choose_artist(name, &domain(&page)).expect(name);
        assert_eq!(page[index].name, name);
    }
}

fn domain(page: &[encore_standin::catalog::CatalogArtist]) -> Vec<encore_domain::Artist> {
    page.iter()
        .map(|a| encore_domain::Artist {
            id: a.id.parse().unwrap(),
            name: a.name.clone(),
            popularity: Some(a.popularity),
            followers: None,
            genres: Vec::new(),
            image_url: None,
            spotify_url: None,
        })
        .collect()
}

/// Every artist name of the data set (10,693) through `resolve_artist` over real HTTP
/// against the stand-in serving the data set: each resolves to its artist (for names
/// that normalize alike, such as `Mamamoo` / `MAMAMOO`, to one of them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_artist_of_the_data_set_resolves_through_the_stand_in() {
    let catalog = catalog();
    let server = StandIn::new(catalog.clone())
        .with_faults(Faults::default())
        .serve("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("stand-in starts");
    let mut config = spotify_config(&server);
    config.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        max_retry_after: Duration::from_secs(5),
    };
    let spotify = SpotifyClient::new(config).expect("client builds");

    let mut by_normalized: HashMap<String, Vec<String>> = HashMap::new();
    for artist in catalog.artists() {
        by_normalized
            .entry(artist.normalized.clone())
            .or_default()
            .push(artist.id.clone());
    }
    let names: Arc<Vec<String>> =
        Arc::new(catalog.artists().iter().map(|a| a.name.clone()).collect());
    let by_normalized = Arc::new(by_normalized);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (spotify, names, next, by_normalized) = (
            spotify.clone(),
            names.clone(),
            next.clone(),
            by_normalized.clone(),
        );
        workers.spawn(async move {
            let mut wrong: Vec<String> = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(name) = names.get(i) else {
                    return wrong;
                };
                let allowed = &by_normalized[&normalize(name)];
                match spotify.resolve_artist(name).await {
                    Ok(resolved) if allowed.contains(&resolved.artist.id.to_string()) => {}
                    Ok(resolved) => {
                        wrong.push(format!("{name:?} resolved to {:?}", resolved.artist.name))
                    }
                    Err(e) => wrong.push(format!("{name:?}: {e}")),
                }
            }
        });
    }
    let mut wrong = Vec::new();
    while let Some(done) = workers.join_next().await {
        wrong.extend(done.expect("worker"));
    }
    let elapsed = started.elapsed();
    assert_eq!(names.len(), 10_693);
    assert!(
        wrong.is_empty(),
        "{} of {} wrong: {wrong:?}",
        wrong.len(),
        names.len()
    );
    for name in HIDDEN_BY_SYNTAX.iter().chain(&QUOTED) {
        assert!(
            by_normalized[&normalize(name)].contains(&artist_id_for(name)),
            "{name}"
        );
    }
    eprintln!(
        "resolved {} names in {:.1} s ({CONCURRENCY} in flight)",
        names.len(),
        elapsed.as_secs_f64()
    );
}
