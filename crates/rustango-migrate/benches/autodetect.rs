//! The autodetector's diff on generated projects of 50, 100 and 200 models with 10
//! fields each, every model changed in three ways (a type, a new nullable column, a new
//! index). Target: under 100 ms for 200 models, linear in the number of models.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use rustango_core::ValueKind;
use rustango_migrate::{ColumnState, IndexState, SchemaSnapshot, TableState, autodetect};

fn column(name: String, kind: ValueKind) -> ColumnState {
    ColumnState {
        name,
        kind,
        nullable: false,
        primary_key: false,
        auto: false,
        max_length: None,
        max_digits: None,
        decimal_places: None,
        unique: false,
        default: None,
        references: None,
    }
}

fn project(models: usize, changed: bool) -> SchemaSnapshot {
    let mut s = SchemaSnapshot::default();
    for m in 0..models {
        let name = format!("model_{m}");
        let mut columns: Vec<ColumnState> = (0..10)
            .map(|f| column(format!("field_{f}"), ValueKind::I32))
            .collect();
        let mut indexes = vec![IndexState {
            name: format!("ix_{name}_field_1"),
            columns: vec!["field_1".into()],
            unique: false,
        }];
        if changed {
            columns[3].kind = ValueKind::I64;
            let mut extra = column("extra".into(), ValueKind::String);
            extra.nullable = true;
            columns.push(extra);
            indexes.push(IndexState {
                name: format!("ix_{name}_field_2"),
                columns: vec!["field_2".into()],
                unique: false,
            });
        }
        s.tables.insert(
            name.clone(),
            TableState {
                model: name.clone(),
                name,
                columns,
                indexes,
                checks: vec![],
                m2m: vec![],
            },
        );
    }
    s
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("autodetect");
    for n in [50, 100, 200] {
        let (old, new) = (project(n, false), project(n, true));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let d = autodetect(&old, &new).unwrap();
                assert_eq!(d.operations.len(), n * 3);
                d
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
