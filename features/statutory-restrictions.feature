Feature: Statutory restrictions and their exceptions
  Gender history (Gender Recognition Act 2004 s22), fertility treatment (Human Fertilisation
  and Embryology Act 1990 s33A) and adoption records (Adoption Agencies Regulations 2005
  regs 41-42) are restricted by statute for everyone, whoever signed what; sexual health
  records by NHS England guidance. Only each restriction's own named exceptions open them.

  # GRA 2004 s22(4)(a): information that does not identify the person is not protected
  Scenario: GRA s22(4)(a): anonymised information about gender history is not protected
    Given a researcher at Northgate University
    And the information is anonymised
    When they ask Northgate Hospitals for the gender history for research
    Then sharing is permitted
    And the deciding rule is ntg-research/anonymised-data

  # GRA 2004 s22(4)(b): the person agrees to the disclosure
  Scenario: GRA s22(4)(b): the person's agreement, and the exception is cited
    Given a GP at Riverside Medical Practice in the person's care team
    And the person has given explicit consent
    When they ask Northgate Hospitals for the gender history for direct care
    Then sharing is permitted
    And the legal basis includes section 22(4)(b)
    And the details mention "by its exception 'agreement'"
    And the deciding rule is ntg-restricted/gender-history-with-agreement

  # GRA 2004 s22(4)(b) and SI 2005/916: consent for a person who lacks capacity is no agreement
  Scenario: GRA s22(4)(b): consent recorded for a person who lacks capacity does not help a social worker
    Given a social worker at Northgate City Council in the person's care team
    And the person has given explicit consent
    And the person lacks capacity for this decision
    When they ask Northgate Hospitals for the gender history for direct care
    Then sharing is not permitted
    And the deciding rule is restriction:gender-history

  # GRA 2004 s22(4)(d): a court order
  Scenario: GRA s22(4)(d): a court order, and the exception is cited
    Given a police officer at Northgate Constabulary
    When they ask Northgate Mental Health for the gender history for a legal obligation
    Then sharing is permitted
    And the legal basis includes section 22(4)(d)
    And rule restriction:gender-history is overridden
    And the deciding rule is ntg-restricted/court-order

  # GRA 2004 s22(4)(f): the crime exception makes disclosure no offence, but is no basis
  Scenario: GRA s22(4)(f): a crime request is still refused, naming the statute
    Given a police officer at Northgate Constabulary
    When they ask Northgate Hospitals for the gender history for law enforcement
    Then sharing is not permitted
    And the details mention "imposed by statute: Gender Recognition Act 2004 section 22"
    And the legal basis includes Gender Recognition Act 2004 section 22
    And the deciding rule is restriction:gender-history

  # SI 2005/916: medical purpose, health professional, person cannot consent
  Scenario: SI 2005/916: a district nurse treating a person who cannot consent
    Given a district nurse at Northgate Community Health in the person's care team
    And the person lacks capacity for this decision
    When they ask Riverside Medical Practice for the gender history for direct care
    Then sharing is permitted
    And the legal basis includes SI 2005/916
    And the deciding rule is ntg-restricted/gender-history-medical-purpose

  # SI 2005/916: health professionals only
  Scenario: SI 2005/916: a home care worker is not a health professional
    Given a home care worker at Northgate City Council in the person's care team
    And the person lacks capacity for this decision
    When they ask Northgate Hospitals for the gender history for direct care
    Then sharing is not permitted
    And the deciding rule is restriction:gender-history

  # SI 2005/916 in break glass: justified at the time (Caldicott principle 1)
  Scenario: SI 2005/916: break glass without a justification is refused
    Given a consultant at Northgate Hospitals
    And the person lacks capacity for this decision
    When they ask Riverside Medical Practice for the gender history for emergency care
    Then sharing is not permitted
    And the deciding rule is restriction:gender-history
    And it would be permitted if the justification is given

  # SI 2005/916 in break glass: reviewed afterwards, whichever rule permits it
  Scenario: SI 2005/916: a justified break-glass access is reviewed afterwards
    Given a ward nurse at Northgate Hospitals
    And the person lacks capacity for this decision
    When they ask Castle Street Surgery for the gender history for emergency care
    And they give the justification "Collapsed on the ward; on hormone therapy"
    Then sharing is permitted
    And the obligations include a retrospective review
    And they must record their justification
    And the deciding rule is ntg-restricted/gender-history-medical-emergency

  # HFE Act 1990 s33A(2) and s33B: consent to disclosure
  Scenario: HFE s33A: consent, and the consent provision is cited
    Given a practice nurse at Castle Street Surgery in the person's care team
    And the person has given explicit consent
    When they ask Northgate Hospitals for the fertility treatment for direct care
    Then sharing is permitted
    And the legal basis includes section 33B
    And the deciding rule is ntg-restricted/fertility-with-consent

  # HFE Act 1990 s33A(2): emergency, imminent danger, consent cannot be obtained
  Scenario: HFE s33A: an emergency to avert imminent danger, and the exception is cited
    Given a GP at Riverside Medical Practice
    And the person lacks capacity for this decision
    When they ask Northgate Hospitals for the fertility treatment for emergency care
    And they give the justification "Severe ovarian hyperstimulation; unconscious"
    Then sharing is permitted
    And the legal basis includes avert an imminent danger
    And the deciding rule is ntg-restricted/fertility-emergency

  # HFE Act 1990 s33A(2): where consent can be sought, the emergency exception does not apply
  Scenario: HFE s33A: an emergency where the person could consent does not open the record
    Given a consultant at Northgate Hospitals
    And the person has capacity for this decision
    When they ask Riverside Medical Practice for the fertility treatment for emergency care
    And they give the justification "Bleeding in early pregnancy"
    Then sharing is not permitted
    And the deciding rule is restriction:fertility-treatment
    And it would be permitted if the capacity is false

  # HFE Act 1990 s33A(2): a court order
  Scenario: HFE s33A: a court order opens fertility treatment records
    Given a police officer at Northgate Constabulary
    When they ask Northgate Hospitals for the fertility treatment for a legal obligation
    Then sharing is permitted
    And rule restriction:fertility-treatment is overridden
    And the deciding rule is ntg-restricted/court-order

  # HFE Act 1990 s33D: research goes through its own regulations, not s251 support
  Scenario: HFE s33D: section 251 support does not open fertility records for research
    Given a researcher at Northgate University
    And the study has section 251 support
    When they ask Northgate Hospitals for the fertility treatment for research
    Then sharing is not permitted
    And the deciding rule is restriction:fertility-treatment

  # HFE Act 1990 s33A: consent must be the person's own
  Scenario: HFE s33A: consent recorded for a person who lacks capacity does not open the record
    Given a GP at Castle Street Surgery in the person's care team
    And the person has given explicit consent
    And the person lacks capacity for this decision
    When they ask Northgate Hospitals for the fertility treatment for direct care
    Then sharing is not permitted
    And the deciding rule is restriction:fertility-treatment

  # Adoption Agencies Regulations 2005 regs 41-42: safeguarding is not on the closed list
  Scenario: AAR 2005 regs 41-42: safeguarding a child does not open an adoption record
    Given a social worker at Northgate City Council
    And there is a risk of serious harm to the child
    And the person is 10 years old
    When they ask Northgate Hospitals for the adoption record for safeguarding
    Then sharing is not permitted
    And the details mention "imposed by statute: Adoption Agencies Regulations 2005"
    And the deciding rule is restriction:adoption-record

  # Adoption Agencies Regulations 2005: anonymised data identifies no one
  Scenario: AAR 2005: anonymised adoption data for planning is outside the restriction
    Given an analyst at Northgate Integrated Care Board
    And the information is anonymised
    When they ask Northgate City Council for the adoption record for service planning
    Then sharing is permitted
    And the deciding rule is ntg-planning/anonymised-data

  # NHS England sexual health guidance (local policy): a court order
  Scenario: Sexual health guidance: a court order opens a sexual health record
    Given a police officer at Northgate Constabulary
    When they ask Northgate Community Health for the sexual health record for a legal obligation
    Then sharing is permitted
    And rule restriction:sexual-health-record is overridden
    And the details mention "by its exception 'court-order'"
    And the deciding rule is ntg-restricted/court-order

  # NHS England sexual health guidance: an anonymous-access service is outside s251B
  Scenario: Sexual health guidance: the deny names the local policy that imposes it
    Given a consultant at Northgate Hospitals in the person's care team
    When they ask Northgate Community Health for the sexual health record for direct care
    Then sharing is not permitted
    And the details mention "imposed by local policy: NHS England guidance sexual health records"
    And the deciding rule is restriction:sexual-health-record
